"""The daemon's statement run: on the 25th (business calendar zone), every account with activity
or a balance gets its statement, with interest charged, emailed to the importer.

A run catches up on the periods whose statement date passed while the daemon was down: every
period after the latest one a statement was issued for, oldest first, each with its interest
up to its own statement date, at most `CATCH_UP_PERIODS_PER_RUN_MAX` periods with statements
per run (the rest at the next run, an hour later). A database without any issued statement
starts at the latest period.
"""

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import structlog

from gateway.config import Config
from gateway.delivery.email_content import Attachment, header_message_id, plain_email
from gateway.ledger.billing import BillingPeriod, period_named, period_of
from gateway.ledger.statement_render import as_pdf, as_text
from gateway.ledger.statements import accounts_due_a_statement, build_statement, issue_statement
from gateway.partners import Registry
from gateway.standards.calendar import BusinessCalendar
from gateway.store.database import Tx
from gateway.store.outbox import Delivery, enqueue

log = structlog.get_logger("gateway.statements")
STATEMENT_DAY = 25
STATEMENT_CHECK_INTERVAL_S = 3600.0
CATCH_UP_PERIODS_PER_RUN_MAX = 12


def period_to_issue(today: date) -> BillingPeriod:
    """The latest period whose statement date (the 25th after it ends) is today or earlier."""
    year, month = today.year, today.month
    if today.day < STATEMENT_DAY:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return period_named(f"{year:04d}-{month:02d}")


def periods_to_issue(tx: Tx, latest: BillingPeriod) -> Iterator[BillingPeriod]:
    """The periods after the latest with an issued statement, up to `latest`, oldest first;
    `latest` itself always (an account may become due after the run on the 25th)."""
    row = tx.one("SELECT MAX(period) FROM statements_issued")
    last_issued = None if row is None or row[0] is None else period_named(str(row[0]))
    period = latest
    if last_issued is not None and last_issued.name < latest.name:
        period = period_of(last_issued.end + timedelta(days=1))
    while period.name <= latest.name:
        yield period
        period = period_of(period.end + timedelta(days=1))


def _email(config: Config, *, account: str, recipient: str, text: str, pdf: bytes,
           period: str, now: datetime) -> Delivery:
    smtp = config.smtp
    message_id = header_message_id(config.gateway.cluster, "statements", account, period,
                                   recipient, smtp.domain)
    payload = plain_email(
        sender_address=smtp.sender, recipient=recipient,
        subject=f"[CARM] Statement of account {account} for {period}", text=text,
        message_id=message_id, now=now,
        attachment=Attachment(f"statement-{account}-{period}.pdf", pdf))
    return Delivery("email", recipient, payload, header_message_id=message_id)


def issue_due_statements(tx: Tx, config: Config, registry: Registry,
                         calendar: BusinessCalendar, now: datetime) -> list[str]:
    """Issue what is due, oldest period first; the accounts issued now, once per statement."""
    issued: list[str] = []
    periods_issued = 0
    for period in periods_to_issue(tx, period_to_issue(calendar.local_date(now))):
        if periods_issued == CATCH_UP_PERIODS_PER_RUN_MAX:
            log.info("statement periods left for the next run", first=period.name)
            break
        accounts = _issue_period(tx, config, registry, calendar, period, now)
        periods_issued += 1 if accounts else 0
        issued += accounts
    return issued


def _issue_period(tx: Tx, config: Config, registry: Registry, calendar: BusinessCalendar,
                  period: BillingPeriod, now: datetime) -> list[str]:
    issued = []
    for account in accounts_due_a_statement(tx, period):
        if not issue_statement(tx, account, period, calendar, config.billing, now):
            continue
        registered = registry.account(account)
        statement = build_statement(tx, account, period.name, calendar, config.billing,
                                    registered)
        if registered is not None:
            delivery = _email(config, account=account, recipient=registered.email,
                              text=as_text(statement), pdf=as_pdf(statement),
                              period=period.name, now=now)
            enqueue(tx, None, False, [delivery], now, instance=config.gateway.id,
                    purpose="statement")
        log.info("statement issued", account=account, period=period.name,
                 closing=str(statement.closing), interest=str(statement.interest))
        issued.append(account)
    return issued
