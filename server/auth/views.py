"""Sign-in, sign-out and the one-time admin bootstrap pages."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from .. import audit
from .. import models as m
from ..errors import ValidationError
from ..i18n import _
from . import passwords, ratelimit, sessions
from .tokens import token_hash

auth_bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in is a phishing tool."""
    if target:
        parsed = urlparse(target)
        if not parsed.scheme and not parsed.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("web.dashboard")


@auth_bp.route("/login", methods=["GET", "POST"])
def login():
    settings = current_app.extensions["talentreel"].settings
    if g.user is not None and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")))
    error = None
    status = 200
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        ip = request.remote_addr or "-"
        if ratelimit.is_limited(settings, username, ip):
            error = _("Too many failed sign-ins. Wait a few minutes and try again.")
            status = 429
        else:
            user = m.User.get_or_none(m.User.username == username) if username else None
            ok = passwords.verify_password(user.password_hash if user else None, password)
            if ok and user is not None and user.is_active:
                ratelimit.note(username, ip, True)
                if passwords.needs_rehash(user.password_hash):
                    user.password_hash = passwords.hash_password(password)
                user.last_login_at = m.utcnow()
                user.save()
                sessions.start(current_app, session, user, request)
                g.user = user
                audit.record("auth.login", user, actor=user)
                return redirect(_safe_next(request.form.get("next") or request.args.get("next")))
            ratelimit.note(username, ip, False)
            audit.record("auth.login_failed", details={"username": username[:100]}, object_type="user")
            # One message for unknown user, wrong password and disabled account alike.
            error = _("Invalid username or password.")
            status = 401
    return render_template("login.html", error=error, username=username, next=request.args.get("next", "")), status


@auth_bp.post("/logout")
def logout():
    if g.user is not None:
        audit.record("auth.logout", g.user)
    sessions.end(session)
    g.user = None
    flash(_("You are signed out."))
    return redirect(url_for("auth.login"))


@auth_bp.route("/setup", methods=["GET", "POST"])
def setup():
    """First start: whoever holds the printed one-time token creates the first administrator."""
    token = request.values.get("token", "")
    record = m.SetupToken.get_or_none((m.SetupToken.token_hash == token_hash(token)) & m.SetupToken.used_at.is_null()) if token else None
    if record is None or m.User.select().exists():
        return render_template("error.html", status=404, message=_("This set-up link is not valid or was already used.")), 404
    error = None
    if request.method == "POST":
        try:
            from ..accounts import create_user

            user = create_user(
                username=request.form.get("username", ""),
                password=request.form.get("password", ""),
                roles=("it_admin", "hr"),
                display_name=request.form.get("display_name", ""),
                email=request.form.get("email") or None,
            )
        except ValidationError as exc:
            error = str(exc)
        else:
            record.used_at = m.utcnow()
            record.save()
            audit.record("user.bootstrap", user, actor=user)
            sessions.start(current_app, session, user, request)
            g.user = user
            return redirect(url_for("web.dashboard"))
    return render_template("setup.html", token=token, error=error), (400 if error else 200)


@auth_bp.route("/setup/password", methods=["GET", "POST"])
def setup_password():
    """First sign-in of an account without a password (a migrated user): the one-time link an
    administrator issued (`talentreel user setup-link`) lets its holder set the password."""
    from . import password_setup

    token = request.values.get("token", "")
    record = password_setup.valid(token)
    if record is None:
        return render_template("error.html", status=404, message=_("This set-up link is not valid, has expired or was already used.")), 404
    error = None
    if request.method == "POST":
        if request.form.get("password", "") != request.form.get("confirm", ""):
            error = _("The two passwords differ.")
        else:
            try:
                user = password_setup.redeem(record, request.form.get("password", ""))
            except ValidationError as exc:
                error = str(exc)
            else:
                audit.record("user.password_setup", user, actor=user)
                sessions.start(current_app, session, user, request)
                g.user = user
                return redirect(url_for("web.dashboard"))
    return render_template("setup_password.html", token=token, username=record.user.username, error=error), (400 if error else 200)


@auth_bp.post("/locale")
def choose_locale():
    """Language switch; a signed-in user's choice is also saved on the account."""
    from .. import defaults

    code = request.form.get("locale", "")
    if code in defaults.LOCALES:
        if g.user is not None:
            m.User.update(locale=code).where(m.User.id == g.user.id).execute()
    response = redirect(_safe_next(request.form.get("next")))
    if code in defaults.LOCALES:
        response.set_cookie("talentreel_locale", code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response
