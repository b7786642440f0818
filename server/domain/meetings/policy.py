"""Who may open a poll (pure): its visibility, as for every resource, plus its participants."""

from __future__ import annotations

from server.domain.visibility.policy import PUBLIC, Viewer, Vis, can_view


def can_open(viewer: Viewer | None, relation: str, vis: Vis, *, participating: bool) -> bool:
    """Tell whether someone may open a poll (its link, its page, its topic).

    ``viewer`` None is a guest (no account): only a public poll, or their own row.
    A participant keeps their way in whatever the level becomes, as the owner
    does (``relation`` "self"); everyone else passes the visibility predicate.
    """
    if participating:
        return True
    if viewer is None:
        return vis["level"] == PUBLIC
    return can_view(viewer, relation, vis)
