"""/api/v1/sessions/{user_id}: a user's conversation state with an expiry."""

from __future__ import annotations

from flask.views import MethodView

from health_api.api.auth import user_data
from health_api.api.blueprint import Blueprint
from health_api.api.context import caller, check_path_id, settings
from health_api.api.context import storage as store
from health_api.api.views import session_dict
from health_api.domain.caller import SESSIONS
from health_api.schemas.sessions import SessionOut, SessionPatch, SessionPut
from health_api.services import sessions as service

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/api/v1/sessions",
    description="Conversation sessions (table user_sessions, TTL on ttl).",
)


@blp.route("/<user_id>")
class Session(MethodView):
    """One user's session."""

    @user_data(SESSIONS)
    @blp.arguments(SessionPut)
    @blp.response(200, SessionOut)
    def put(self, body, user_id):
        """Create or replace the session (default lifetime ``SESSION_TTL_SECONDS``); it
        remembers its ``ttl_seconds`` for later PATCHes."""
        session = service.put_session(
            store(),
            check_path_id(user_id, "user_id"),
            body["data"],
            body["ttl_seconds"],
            settings().session_ttl_seconds,
            caller=caller(),
        )
        return _body(session)

    @user_data(SESSIONS)
    @blp.response(200, SessionOut)
    def get(self, user_id):
        """The live session; 404 when absent or expired."""
        return _body(
            service.get_session(store(), check_path_id(user_id, "user_id"), caller=caller())
        )

    @user_data(SESSIONS)
    @blp.arguments(SessionPatch)
    @blp.response(200, SessionOut)
    def patch(self, body, user_id):
        """Shallow-merge into ``data`` and slide the expiry to now + the session's own
        ``ttl_seconds`` (or the one given here, then remembered); 404 when absent or expired."""
        session = service.patch_session(
            store(),
            check_path_id(user_id, "user_id"),
            body["data"],
            body["ttl_seconds"],
            settings().session_ttl_seconds,
            caller=caller(),
        )
        return _body(session)

    @user_data(SESSIONS)
    @blp.response(204)
    def delete(self, user_id):
        """Forget the session (204 also when absent)."""
        service.delete_session(store(), check_path_id(user_id, "user_id"), caller=caller())


def _body(session):
    # A session stored before sessions remembered a lifetime slides by the configured default.
    return session_dict(session, service.lifetime(session, settings().session_ttl_seconds))
