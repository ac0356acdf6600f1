"""Each recruiter's daily digest: today's plan and open alerts, by email and by chat bot.

Both channels are off until configured (``KEEPWARM_SMTP_HOST``,
``KEEPWARM_CHAT_WEBHOOK_URL``). The digest carries candidate ids, actions, reasons
and alert texts: what the recruiter already sees in the console; no names (keepwarm
keeps none), no free text, and nothing of it is logged.
"""

from __future__ import annotations

import datetime as dt
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage

import httpx
import pandas as pd
from sqlalchemy import Engine, select

from config import Settings
from outreach.alerts import alert_text
from store.schema import Alert, Candidate, OutreachAction
from training.predictor import shown_risk

TOP = 10


@dataclass
class Digest:
    owner: str
    day: dt.date
    subject: str
    lines: list[str]
    tasks: int
    alerts: int

    @property
    def text(self) -> str:
        return "\n".join([self.subject, "", *self.lines])


@dataclass
class SendReport:
    emails: int = 0
    chats: int = 0
    failures: list[str] = field(default_factory=list)  # owner: channel, never the content


def build_digests(engine: Engine, day: dt.date) -> list[Digest]:
    """One digest per recruiter with tasks or open alerts on ``day`` (Chinese)."""
    with engine.connect() as conn:
        plan = pd.read_sql(
            select(OutreachAction).where(
                OutreachAction.plan_date == day, OutreachAction.status == "planned"
            ),
            conn,
        )
        alerts = pd.read_sql(
            select(Alert, Candidate.hr_owner)
            .join(Candidate, Candidate.candidate_id == Alert.candidate_id)
            .where(Alert.as_of == day, Alert.resolved_at.is_(None)),
            conn,
        )
    owners = sorted(set(plan["hr_owner"]) | set(alerts["hr_owner"]))
    out = []
    for owner in owners:
        # the plan's own order, as stored: urgent work first, then by expected benefit
        mine = plan[plan["hr_owner"] == owner].sort_values("action_id")
        warn = alerts[alerts["hr_owner"] == owner].sort_values("created_at")
        lines = [f"今日待办 {len(mine)} 项（紧急事项在前，其余按预期收益排序）："]
        lines += [
            f"{i}. {r.candidate_id}  风险 {shown_risk(r.risk)}  {r.reason}"
            for i, r in enumerate(mine.head(TOP).itertuples(index=False), 1)
        ]
        if len(mine) > TOP:
            lines.append(f"… 另有 {len(mine) - TOP} 项，见控制台")
        lines.append(f"未处理预警 {len(warn)} 条：")
        lines += [
            f"- {r.candidate_id}  {alert_text(r.kind, r.detail or {}, r.notify, day, 'zh')}"
            for r in warn.head(TOP).itertuples(index=False)
        ]
        out.append(
            Digest(
                owner=owner,
                day=day,
                subject=f"keepwarm {day} {owner}：{len(mine)} 项待办，{len(warn)} 条预警",
                lines=lines,
                tasks=len(mine),
                alerts=len(warn),
            )
        )
    return out


def email_address(owner: str, settings: Settings) -> str | None:
    if owner in settings.digest_emails:
        return settings.digest_emails[owner]
    if settings.digest_email_domain:
        return f"{owner}@{settings.digest_email_domain}"
    return None


def chat_payload(digest: Digest, flavor: str) -> dict[str, object]:
    """The bot message: WeCom's markdown message or Feishu's text message."""
    if flavor == "feishu":
        return {"msg_type": "text", "content": {"text": digest.text}}
    body = "\n".join([f"**{digest.subject}**", *digest.lines])
    return {"msgtype": "markdown", "markdown": {"content": body}}


def send_digests(engine: Engine, settings: Settings, day: dt.date) -> SendReport:
    """Send every recruiter's digest through the channels that are configured."""
    report = SendReport()
    if not settings.smtp_host and not settings.chat_webhook_url:
        return report
    digests = build_digests(engine, day)
    if settings.smtp_host:
        _email(digests, settings, report)
    if settings.chat_webhook_url:
        with httpx.Client(timeout=10) as http:
            for d in digests:
                try:
                    r = http.post(
                        settings.chat_webhook_url, json=chat_payload(d, settings.chat_flavor)
                    )
                    r.raise_for_status()
                    report.chats += 1
                except httpx.HTTPError:
                    report.failures.append(f"{d.owner}: chat")
    return report


def send_notice(settings: Settings, subject: str, lines: list[str]) -> SendReport:
    """An operators' notice (a failed scheduled run) to ``KEEPWARM_OPS_EMAIL`` by the
    digests' SMTP server, and to ``KEEPWARM_OPS_CHAT_WEBHOOK_URL`` as a bot message.

    Never raises: a notice that cannot go out is counted in ``failures`` (the caller is
    already reporting a failure). The text is the caller's: no candidate data in it.
    """
    report = SendReport()
    notice = Digest(owner="ops", day=dt.date.min, subject=subject, lines=lines, tasks=0, alerts=0)
    if settings.smtp_host and settings.ops_email:
        msg = EmailMessage()
        msg["Subject"] = subject
        msg["From"] = settings.smtp_from
        msg["To"] = settings.ops_email
        msg.set_content(notice.text)
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls()
                if settings.smtp_user and settings.smtp_password:
                    smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
                smtp.send_message(msg)
            report.emails += 1
        except (OSError, smtplib.SMTPException):
            report.failures.append("ops: email")
    if settings.ops_chat_webhook_url:
        try:
            with httpx.Client(timeout=10) as http:
                r = http.post(
                    settings.ops_chat_webhook_url, json=chat_payload(notice, settings.chat_flavor)
                )
                r.raise_for_status()
            report.chats += 1
        except httpx.HTTPError:
            report.failures.append("ops: chat")
    return report


def _email(digests: list[Digest], settings: Settings, report: SendReport) -> None:
    assert settings.smtp_host is not None
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        for d in digests:
            to = email_address(d.owner, settings)
            if to is None:
                continue
            msg = EmailMessage()
            msg["Subject"] = d.subject
            msg["From"] = settings.smtp_from
            msg["To"] = to
            msg.set_content(d.text)
            try:
                smtp.send_message(msg)
                report.emails += 1
            except smtplib.SMTPException:
                report.failures.append(f"{d.owner}: email")
