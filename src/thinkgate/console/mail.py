"""Console mail (e-mail verification, password reset) through the configured SMTP server
(`[console.smtp]`), with aiosmtplib: sent from the request, off no thread, with a timeout.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from thinkgate.config_console import SmtpConfig


class MailError(Exception):
    """The mail could not be handed to the SMTP server."""


async def send(smtp: SmtpConfig, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password else None,
            use_tls=smtp.security == "tls",
            start_tls=smtp.security == "starttls",
            timeout=smtp.timeout_seconds,
        )
    except (aiosmtplib.SMTPException, OSError) as failed:
        raise MailError(str(failed)) from failed
