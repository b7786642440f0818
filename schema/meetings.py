"""Meeting polls as they travel on the wire: the poll, its participants, cells and windows."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from schema.resources import Resource, Visibility

Tier = Literal["available", "if_need_be"]


class Meeting(Resource):
    """A poll: its grid (dates, days, daily range, slot, zone) and its link.

    ``share_token`` reaches the owner only (on their own topic and in their
    replies): anyone holding it may open the poll as far as its visibility allows.
    """

    title: str
    description: str
    start_date: str
    end_date: str
    available_days: list[int]
    start_time: str
    end_time: str
    time_slot_minutes: int
    timezone: str
    share_token: str | None = None
    visibility: Visibility


class Participant(BaseModel):
    """Someone in a poll: a signed-in user (``user_id``) or a guest (``user_id`` null)."""

    id: str
    meeting_id: str
    display_name: str
    user_id: str | None
    created_at: str
    updated_at: str
    version: int


class Availability(BaseModel):
    """A participant's cells: cell starts (UTC), free, and free only if need be."""

    meeting_id: str
    participant_id: str
    available: list[str]
    if_need_be: list[str]
    version: int


class ParticipantDetail(Participant):
    """A participant with their cells, as ``meeting.get`` lists them."""

    available: list[str]
    if_need_be: list[str]


class ViewerDay(BaseModel):
    """A date in the viewer's zone and the starts of the cells that begin on it."""

    date: str
    cells: list[str]


class MeetingDetail(BaseModel):
    """A poll with everyone's cells; ``you`` is the caller's participant id, if any.

    With ``tz``, ``days`` groups the grid's cells by the viewer's local date
    (a poll day may split over two of them); without, ``days`` is null.
    """

    meeting: Meeting
    participants: list[ParticipantDetail]
    you: str | None
    days: list[ViewerDay] | None


class MeetingList(BaseModel):
    """Polls the caller owns or takes part in, newest first."""

    items: list[Meeting]
    next_cursor: str | None


class MeetingChanged(Meeting):
    """A poll after ``meeting.update``, with how many painted cells the new grid dropped."""

    dropped_cells: int


class MeetingDeleted(BaseModel):
    """A poll that is gone, with how many participants it had."""

    id: str
    participants: int


class Joined(BaseModel):
    """``meeting.join``: the participant, and a guest's token (shown once, never again)."""

    meeting: Meeting
    participant: Participant
    participant_token: str | None = None
    rejoined: bool


class ParticipantRemoved(BaseModel):
    """A participant that left or was removed, with their cells."""

    id: str
    meeting_id: str


class Cell(BaseModel):
    """One cell of the grid and who is free in it."""

    start: str
    end: str
    available: list[str]
    if_need_be: list[str]


class Window(BaseModel):
    """A span of consecutive cells where enough people are free, and who is missing."""

    start: str
    end: str
    available: list[str]
    missing: list[str]
    if_need_be: list[str]


class MeetingResult(BaseModel):
    """Counts per cell and the best windows, best first."""

    meeting_id: str
    duration_minutes: int
    min_people: int
    required: list[str]
    tier: Tier
    cells: list[Cell]
    windows: list[Window]
