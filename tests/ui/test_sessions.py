"""The UI's session table: ids and CSRF tokens are fresh per session, idle and surplus sessions
are forgotten, and a CSRF token matches only itself."""

from __future__ import annotations

from registry_core.server.ui.sessions import SessionStore


def test_each_session_has_its_own_id_and_csrf_token() -> None:
    sessions = SessionStore()
    first, second = sessions.new("secret-1"), sessions.new()
    assert len({first.id, second.id, first.csrf, second.csrf}) == 4
    assert sessions.get(first.id) is first and first.secret == "secret-1"
    assert first.csrf_matches(first.csrf)
    assert not first.csrf_matches(second.csrf)
    assert not first.csrf_matches(None) and not first.csrf_matches("")
    assert sessions.get(None) is None and sessions.get("unknown") is None


def test_idle_sessions_are_forgotten() -> None:
    sessions = SessionStore(idle_seconds=-1)
    session = sessions.new()
    assert sessions.get(session.id) is None


def test_the_least_recently_used_go_beyond_the_limit() -> None:
    sessions = SessionStore(limit=2)
    oldest, middle = sessions.new(), sessions.new()
    assert sessions.get(oldest.id) is oldest
    newest = sessions.new()
    assert sessions.get(middle.id) is None
    assert sessions.get(oldest.id) is oldest and sessions.get(newest.id) is newest
    sessions.drop(newest)
    assert sessions.get(newest.id) is None


def test_flashes_are_shown_once() -> None:
    session = SessionStore().new()
    session.flash("done", "Moved.")
    assert session.take_flashes() == [("done", "Moved.")]
    assert session.take_flashes() == []
