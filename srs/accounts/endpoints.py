from __future__ import annotations

from fastapi import APIRouter, Request, Response

from srs.accounts import service
from srs.accounts.dependencies import CSRF_COOKIE, SESSION_COOKIE, CurrentCaller, CurrentUser
from srs.accounts.schemas import AuthOut, Credentials, SignupIn, UserOut, UserPatch
from srs.kit.deps import AppSettings, DbSession, client_address
from srs.kit.settings import Settings

router = APIRouter(prefix="/auth", tags=["auth"])
me_router = APIRouter(tags=["auth"])


def user_out(user) -> UserOut:
    out = UserOut.model_validate(user)
    out.fsrs_fitted = user.fsrs_parameters is not None
    return out


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


def _answer(response: Response, settings: Settings, issued: service.Issued) -> AuthOut:
    _set_cookies(response, settings, issued.token)
    return AuthOut(token=issued.token, user=user_out(issued.user))


@router.post("/signup", status_code=201, response_model=AuthOut)
def signup(
    body: SignupIn, request: Request, response: Response, db: DbSession, settings: AppSettings
) -> AuthOut:
    limiter = request.app.state.limiter
    limiter.hit("signup", client_address(request), settings.rate_signup_per_hour, 3600)
    issued = service.signup(db, body, kind="api", days=settings.session_days)
    return _answer(response, settings, issued)


@router.post("/login", response_model=AuthOut)
def login(
    body: Credentials, request: Request, response: Response, db: DbSession, settings: AppSettings
) -> AuthOut:
    address = client_address(request)
    limiter = request.app.state.limiter
    limiter.hit("login-ip", address, settings.rate_login_ip_per_5min, 300)
    limiter.hit("login", f"{address}|{body.email}", settings.rate_login_per_5min, 300)
    issued = service.login(db, body, kind="api", days=settings.session_days)
    return _answer(response, settings, issued)


@router.post("/logout", status_code=204)
def logout(caller: CurrentCaller, db: DbSession) -> Response:
    service.logout(db, caller.token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.post("/logout-all", status_code=204)
def logout_all(user: CurrentUser, db: DbSession) -> Response:
    service.logout_everywhere(db, user)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@me_router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return user_out(user)


@me_router.patch("/me", response_model=UserOut)
def update_me(body: UserPatch, user: CurrentUser, db: DbSession) -> UserOut:
    return user_out(service.update_user(db, user, body))
