"""Demo data beyond the team and user: filled in as the product grows."""


def demo_data_create(*, team, user) -> None:
    return None
