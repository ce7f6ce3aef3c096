"""The `/zoom_oauth_connections` routes, answered by calendar-sync. The app's secret and the
authorization code are sealed here, before they leave the gateway."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, ValidationError

from api_gateway.accounts import Caller
from api_gateway.bots import _ask
from api_gateway.calendars import NotBlank, _uuid
from api_gateway.errors import ApiError, from_validation_error, read_json
from api_gateway.keys import CALLER, KEY_RING, SETTINGS
from api_gateway.responses import ZoomOAuthConnectionResponse, json_response
from api_gateway.schemas import BLANKS
from mb_shared.contracts.calendar import (
    CreateZoomConnection,
    DeleteZoomConnection,
    GetZoomConnection,
    ListZoomConnections,
    ZoomConnectionList,
    ZoomConnectionView,
)
from mb_shared.contracts.queries import OkReply

routes = web.RouteTableDef()
CONNECTION = "/zoom_oauth_connections/{uuid}"


class CreateConnectionRequest(BaseModel):
    """The reference's `CreateConnectionRequest`; fields it does not know are ignored."""

    model_config = ConfigDict(extra="ignore")

    authorization_code: NotBlank
    redirect_uri: AnyUrl
    zoom_client_id: Annotated[str, Field(pattern=r"^[!-9;-~]+$")]
    """Printable ASCII, no colon (it goes into HTTP Basic authentication)."""
    zoom_client_secret: NotBlank


def _response(view: ZoomConnectionView) -> ZoomOAuthConnectionResponse:
    return ZoomOAuthConnectionResponse(
        uuid=view.uuid, zoom_user_id=view.zoom_user_id, zoom_account_id=view.zoom_account_id,
        scopes=view.scopes, state=view.state,
        connection_failure_data=view.connection_failure_data,
        created_at=view.created_at.isoformat(), updated_at=view.updated_at.isoformat())


@routes.get("/zoom_oauth_connections/")
@routes.get("/zoom_oauth_connections")
async def list_zoom_oauth_connections(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    reply: ZoomConnectionList = await _ask(
        request, ListZoomConnections(account_id=caller.account_id), ZoomConnectionList)
    return web.json_response([_response(c).model_dump(mode="json") for c in reply.connections])


@routes.post("/zoom_oauth_connections/")
@routes.post("/zoom_oauth_connections")
async def create_zoom_oauth_connection(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    try:
        body = CreateConnectionRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    for name in ("authorization_code", "zoom_client_secret"):
        if not getattr(body, name).strip(BLANKS):
            raise ApiError(400, "InvalidZoomAuthorization", f"{name}: must not be empty",
                           field=name)
    ring = request.app[KEY_RING]
    view: ZoomConnectionView = await _ask(request, CreateZoomConnection(
        account_id=caller.account_id, client_id=body.zoom_client_id.strip(BLANKS),
        sealed_client_secret=ring.seal(body.zoom_client_secret.strip(BLANKS)),
        sealed_authorization_code=ring.seal(body.authorization_code.strip(BLANKS)),
        redirect_uri=str(body.redirect_uri)), ZoomConnectionView,
        timeout_s=request.app[SETTINGS].calendar_timeout_s)
    return json_response(_response(view), status=201)


@routes.get(CONNECTION)
async def get_zoom_oauth_connection(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    view: ZoomConnectionView = await _ask(request, GetZoomConnection(
        account_id=caller.account_id, connection_uuid=_uuid(request.match_info["uuid"], "uuid")),
        ZoomConnectionView)
    return json_response(_response(view))


@routes.delete(CONNECTION)
async def delete_zoom_oauth_connection(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    await _ask(request, DeleteZoomConnection(
        account_id=caller.account_id, connection_uuid=_uuid(request.match_info["uuid"], "uuid")),
        OkReply)
    return web.Response(status=204)
