from django.shortcuts import render

from accounts.permissions import team_required


@team_required()
def flow_list(request):
    return render(request, "designer/flow_list.html", {})


@team_required()
def run_list(request):
    return render(request, "designer/run_list.html", {})
