from django.shortcuts import render

from accounts.permissions import team_required


@team_required()
def catalog_page(request):
    return render(request, "connectors/catalog.html", {})
