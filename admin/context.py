"""The signed-in staff member as the console's services see them."""

from __future__ import annotations

from flask_login import current_user

from auth.guards import staff_may

from .customers import Viewer


def viewer() -> Viewer:
    return Viewer(current_user.subject_id, staff_may("customers.view_all"))
