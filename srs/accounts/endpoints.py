from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import StreamingResponse

from srs.accounts import export, mail, service
from srs.accounts.dependencies import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    BriefCaller,
    CurrentCaller,
    CurrentUser,
    Hashing,
)
from srs.accounts.models import User
from srs.accounts.schemas import (
    AuthOut,
    Credentials,
    PasswordChangeIn,
    PasswordIn,
    ResetAvailability,
    ResetConfirmIn,
    ResetRequestIn,
    SignupIn,
    TimeZonesOut,
    UserOut,
    UserPatch,
    known_zones,
)
from srs.kit.db import utcnow
from srs.kit.deps import (
    AppDatabase,
    AppSettings,
    DbSession,
    Limiter,
    client_address,
    in_transaction,
)
from srs.kit.errors import AppError
from srs.kit.ratelimit import RateLimiter
from srs.kit.settings import Settings

router = APIRouter(prefix="/auth", tags=["auth"])
me_router = APIRouter(tags=["auth"])


def user_out(user: User, settings: Settings) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        timezone=user.timezone,
        plan=user.plan,
        desired_retention=user.desired_retention,
        new_cards_per_day=service.new_cards_per_day(user, settings),
        fsrs_fitted=user.fsrs_parameters is not None,
        created_at=user.created_at,
    )


def _set_cookies(response: Response, settings: Settings, token: str) -> None:
    secure = settings.env == "production"
    max_age = settings.session_days * 86400
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure
    )
    response.set_cookie(
        CSRF_COOKIE,
        service.csrf_token(settings.secret_key, token),
        max_age=max_age,
        httponly=False,  # our own page reads it to send the X-CSRF-Token header
        samesite="lax",
        secure=secure,
    )


def _signed_out(status_code: int = 204) -> Response:
    response = Response(status_code=status_code)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


def _answer(response: Response, settings: Settings, issued: service.Issued) -> AuthOut:
    _set_cookies(response, settings, issued.token)
    return AuthOut(token=issued.token, user=user_out(issued.user, settings))


@router.post("/signup", status_code=201, response_model=AuthOut)
async def signup(
    body: SignupIn,
    request: Request,
    response: Response,
    settings: AppSettings,
    hashing: Hashing,
    limiter: Limiter,
) -> AuthOut:
    limiter.hit("signup", client_address(request), settings.rate_signup_per_hour, 3600)
    new = await hashing.run(service.prepare_signup, body, address=client_address(request))
    days = settings.session_days
    issued = await in_transaction(request, service.signup, new, kind="api", days=days)
    return _answer(response, settings, issued)


@router.post("/login", response_model=AuthOut)
async def login(
    body: Credentials,
    request: Request,
    response: Response,
    settings: AppSettings,
    hashing: Hashing,
    limiter: Limiter,
) -> AuthOut:
    address = client_address(request)
    limiter.hit("login-ip", address, settings.rate_login_ip_per_5min, 300)
    limiter.hit("login", f"{address}|{body.email}", settings.rate_login_per_5min, 300)
    # Past the address's share of the hashing: 429 at once, before any read.
    with hashing.share(address):
        candidate = await in_transaction(request, service.find_login, body.email, write=False)
        await hashing.run(service.check_login, candidate, body.password)  # no transaction
    days = settings.session_days
    issued = await in_transaction(request, service.issue_login, candidate, kind="api", days=days)
    return _answer(response, settings, issued)


@router.post("/logout", status_code=204)
def logout(caller: CurrentCaller, db: DbSession) -> Response:
    service.logout(db, caller.token)
    return _signed_out()


@router.post("/logout-all", status_code=204)
def logout_all(user: CurrentUser, db: DbSession) -> Response:
    """Sign out everywhere: every token and session of the learner, this one included."""
    service.logout_everywhere(db, user)
    return _signed_out()


def _reset_unavailable() -> AppError:
    return AppError(
        "Password reset is unavailable: this server has no outgoing mail server (SRS_SMTP_URL) "
        "configured. Ask its administrator for help.",
        code="reset_unavailable",
        status_code=503,
    )


@router.get("/password-reset", response_model=ResetAvailability)
def reset_availability(settings: AppSettings) -> ResetAvailability:
    """Whether reset by email works here (the log-in page says so before anyone asks)."""
    return ResetAvailability(available=settings.smtp_url is not None)


@router.post("/password-reset", status_code=202)
def request_password_reset(
    body: ResetRequestIn,
    request: Request,
    background: BackgroundTasks,
    db: DbSession,
    settings: AppSettings,
    limiter: Limiter,
) -> dict[str, str]:
    """Emails a single-use link when the address has an account. The answer is the same
    202 either way, so it tells nobody which addresses have accounts."""
    if settings.smtp_url is None:
        raise _reset_unavailable()
    limit = settings.rate_reset_per_hour
    limiter.hit("reset-address", client_address(request), limit * 4, 3600)
    limiter.hit("reset-email", body.email, limit, 3600)
    minutes = settings.password_reset_minutes
    link = service.start_password_reset(db, body.email, minutes)
    if link is not None:
        background.add_task(
            mail.send_reset_link,
            settings.smtp_url,
            settings.smtp_from,
            link.email,
            f"{settings.base_url}/#/reset/{link.token}",
            minutes,
            settings.smtp_timeout,
        )
    return {
        "status": "accepted",
        "message": "If an account uses this address, a link is on its way.",
    }


@router.post("/password-reset/confirm", status_code=204)
async def confirm_password_reset(
    body: ResetConfirmIn,
    request: Request,
    settings: AppSettings,
    hashing: Hashing,
    limiter: Limiter,
) -> Response:
    """Sets the new password; the link then stops working and every session is signed out."""
    limiter.hit("reset-confirm", client_address(request), settings.rate_login_per_5min, 300)
    new_hash = await hashing.run(
        service.prepare_reset_password, body.new_password, address=client_address(request)
    )
    await in_transaction(request, service.finish_password_reset, body.token, new_hash)
    return _signed_out()


@me_router.get("/timezones", response_model=TimeZonesOut)
def time_zones() -> TimeZonesOut:
    """The IANA zone names this server accepts for `timezone`."""
    return TimeZonesOut(zones=list(known_zones()))


@me_router.get("/me", response_model=UserOut)
def me(user: CurrentUser, settings: AppSettings) -> UserOut:
    return user_out(user, settings)


@me_router.patch("/me", response_model=UserOut)
def update_me(body: UserPatch, user: CurrentUser, db: DbSession, settings: AppSettings) -> UserOut:
    return user_out(service.update_user(db, user, body), settings)


def _password_attempt(limiter: RateLimiter, user: User, settings: Settings) -> None:
    # Confirming a password is a log-in attempt: the same limit stops guessing from a session.
    limit = settings.rate_login_per_5min
    limiter.hit("password-confirm", str(user.id), limit, 300)


@me_router.post("/me/password", status_code=204)
async def change_password(
    body: PasswordChangeIn,
    request: Request,
    caller: BriefCaller,
    settings: AppSettings,
    hashing: Hashing,
    limiter: Limiter,
) -> Response:
    """A new password; every other session and token is signed out, this one stays."""
    _password_attempt(limiter, caller.user, settings)
    change = await hashing.run(
        service.confirm_password_change, caller.user, body.current_password, body.new_password
    )
    await in_transaction(request, service.change_password, change, caller.token)
    return Response(status_code=204)


@me_router.delete("/me", status_code=204)
async def delete_me(
    body: PasswordIn,
    request: Request,
    caller: BriefCaller,
    settings: AppSettings,
    hashing: Hashing,
    limiter: Limiter,
) -> Response:
    """Deletes the account and all its data (topics, cards, reviews, jobs, usage, sessions)
    at once; the password must be given again."""
    _password_attempt(limiter, caller.user, settings)
    confirmed = await hashing.run(service.confirm_deletion, caller.user, body.password)
    await in_transaction(request, service.delete_account, caller.user.id, confirmed)
    return _signed_out()


@me_router.get(
    "/me/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/json": {}}, "description": "all the learner's data"}},
)
def export_me(user: CurrentUser, database: AppDatabase) -> StreamingResponse:
    """`{format, exported_at, user, topics, cards, reviews}`, streamed as it is read."""
    name = f"srs-export-{utcnow().date().isoformat()}.json"
    return StreamingResponse(
        export.stream(database, user.id),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
