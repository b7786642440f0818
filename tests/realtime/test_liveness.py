"""When a quiet pub/sub link is PINGed, and when its silence means Redis hangs."""

from __future__ import annotations

from server.realtime.liveness import MIN_WAIT_S, Liveness


def test_a_link_that_delivers_is_never_pinged():
    live = Liveness(quiet_s=1.0, timeout_s=2.0, heard=0.0)
    for now in (0.5, 1.4, 2.3, 3.2):
        assert not live.ping_due(now)
        live.hear(now)
    assert not live.hung(100.0)


def test_a_quiet_link_is_pinged_after_quiet_s():
    live = Liveness(quiet_s=1.0, timeout_s=2.0, heard=0.0)

    assert live.wait(0.25) == 0.75
    assert not live.ping_due(0.99)
    assert live.ping_due(1.0)


def test_an_unanswered_ping_means_a_hang_after_timeout_s():
    live = Liveness(quiet_s=1.0, timeout_s=2.0, heard=0.0)
    live.ping(1.0)

    assert not live.ping_due(1.5)  # one PING at a time
    assert live.wait(1.5) == 1.5
    assert not live.hung(2.99)
    assert live.hung(3.0)


def test_any_reply_clears_the_ping():
    live = Liveness(quiet_s=1.0, timeout_s=2.0, heard=0.0)
    live.ping(1.0)
    live.hear(1.2)

    assert not live.hung(3.5)
    assert live.ping_due(2.2)


def test_a_decision_already_due_still_waits_a_little():
    live = Liveness(quiet_s=1.0, timeout_s=2.0, heard=0.0)

    assert live.wait(5.0) == MIN_WAIT_S
