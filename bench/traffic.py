"""A seeded generator of realistic gateway traffic: declarations, payments, appeals, requests.

The same seed and stream give the same messages, byte for byte. What makes them realistic:

- declarations of 1 to 200 lines, most of 5 to 20, in several currencies, some lines with
  excise tax or a GST rate of their own, declared totals computed with the contract's
  arithmetic (the gateway's own `assess_line`);
- payments that allocate to transactions declared earlier in the same stream (and owing at
  least the allocated amount), appeals of earlier transactions or of penalties, a few
  account requests;
- about 5 % invalid: wrong declared totals (DEC001), a bad BN9 check digit (ACC001), a
  schema error (SCH001, an 8-digit HS code), a bad transaction check digit (TXN001);
- several senders, each delegated for some of several importer accounts, with unique
  MessageIDs and 14-digit transaction numbers whose last digit is a Luhn check digit.

The expensive part (lines and their totals) is computed once for a pool of declaration
templates per stream; each message fills in its own identifiers, so a publisher can produce
tens of thousands of messages a second without becoming the bottleneck.

EDIFACT: when `gateway.codec.edifact` exposes `from_xml_to_edifact`, a share of declarations
and payments (`edifact_share`) is sent in that form; otherwise the share is 0 and
`edifact_available()` says why.

Run it alone to look at a corpus: `python bench/traffic.py --count 20 --out /tmp/corpus`.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from gateway.codec.messages import DeclarationLine  # noqa: E402
from gateway.identifiers import luhn_check_digit  # noqa: E402
from gateway.ledger.assessment import assess_line  # noqa: E402
from gateway.money import format_amount  # noqa: E402

NAMESPACE = "urn:carm-gateway:message:1"
EASTERN = ZoneInfo("America/Toronto")
TEMPLATES_PER_STREAM = 300
MIXES = ("realistic", "declaration-10", "declaration-10-large")
LARGE_LINES = 999
LARGE_EVERY = 50
"""In the `declaration-10-large` mix, one message in LARGE_EVERY has LARGE_LINES lines."""
"""Distinct declaration bodies per stream; identifiers are unique per message regardless."""
INVALID_SHARE_DEFAULT = 0.05
DEFECTS = ("DEC001", "ACC001", "SCH001", "TXN001")

# (weight, kind) of the realistic mix; invalid messages are declarations with one defect.
REALISTIC_MIX: tuple[tuple[float, str], ...] = (
    (0.76, "declaration"),
    (0.18, "payment"),
    (0.04, "appeal"),
    (0.02, "account-request"),
)
# (weight, lowest, highest) line counts: 1 to 200, most of 5 to 20.
LINE_COUNT_BANDS: tuple[tuple[float, int, int], ...] = (
    (0.10, 1, 4),
    (0.75, 5, 20),
    (0.13, 21, 60),
    (0.02, 61, 200),
)

GOODS: tuple[tuple[str, str, str, str], ...] = (
    # HS code, description, unit, typical duty rate
    ("8471300000", "Portable computers", "NMB", "0"),
    ("8517130000", "Smartphones", "NMB", "0"),
    ("2204210000", "Red wine in bottles of 750 ml", "LTR", "8"),
    ("6109100000", "Cotton T-shirts, knitted", "NMB", "18"),
    ("6403990000", "Leather footwear", "NMB", "18"),
    ("9403600000", "Wooden furniture", "NMB", "9.5"),
    ("8708299000", "Motor vehicle body parts", "KGM", "6"),
    ("3926909900", "Articles of plastics", "KGM", "6.5"),
    ("0803900000", "Bananas, fresh", "KGM", "0"),
    ("7318159000", "Threaded screws and bolts", "KGM", "2.5"),
    ("9503000000", "Toys and puzzles", "NMB", "0"),
    ("8528720000", "Television receivers", "NMB", "5"),
    ("4011100000", "New pneumatic tyres for cars", "NMB", "7"),
    ("6204620000", "Women's cotton trousers", "NMB", "17"),
    ("8450110000", "Washing machines", "NMB", "8"),
    ("2208300000", "Whisky", "LTR", "0"),
)
EXCISE_GOODS = frozenset({"2204210000", "2208300000"})
COUNTRIES = ("CN", "US", "MX", "DE", "FR", "IT", "VN", "BD", "IN", "JP", "KR", "GB")
TREATMENTS = ("MFN", "MFN", "MFN", "UST", "GPT", "LDCT", "CEUT", "CPTPT")
CURRENCIES: tuple[tuple[str, str], ...] = (
    ("USD", "1.3900"), ("USD", "1.3650"), ("CAD", "1"), ("EUR", "1.5120"), ("CNY", "0.192300"),
)
METHODS = ("EFT", "WIRE", "PAD", "ONLINE_BANKING", "CHEQUE")


def wrong_digit(digit: str) -> str:
    return str((int(digit) + 1) % 10)


@dataclass(frozen=True)
class PartnerSender:
    id: str
    email: str
    notify: str
    accounts: tuple[str, ...]
    weight: float


@dataclass(frozen=True)
class Partners:
    senders: tuple[PartnerSender, ...]
    accounts: tuple[str, ...]

    def toml(self) -> str:
        """The partner registry (the gateway's partners.toml) for these senders and accounts."""
        parts = ["# Written by bench/traffic.py for one benchmark run.\n"]
        for sender in self.senders:
            accounts = ", ".join(f'"{number}"' for number in sender.accounts)
            parts.append(f'\n[[sender]]\nid = "{sender.id}"\nemail = "{sender.email}"\n'
                         f'notify = "{sender.notify}"\naccounts = [{accounts}]\n')
        for index, number in enumerate(self.accounts):
            parts.append(f'\n[[account]]\nnumber = "{number}"\n'
                         f'email = "accounts{index}@importer{index}.example"\n'
                         f'security = "{25000 + 5000 * index}.00"\nsecurity_type = "bond"\n')
        return "".join(parts)

    def write(self, path: Path) -> Path:
        path.write_text(self.toml(), encoding="utf-8")
        return path


def make_partners(seed: int, senders: int = 6, accounts: int = 8) -> Partners:
    """Senders BRK01.. with BN9 accounts (valid Luhn check digits); bigger brokers send more."""
    rng = random.Random(f"partners-{seed}")
    numbers: list[str] = []
    while len(numbers) < accounts:
        body = f"{rng.randrange(10_000_000, 100_000_000):08d}"
        number = f"{body}{luhn_check_digit(body)}RM{rng.randrange(1, 10):04d}"
        if number not in numbers:
            numbers.append(number)
    made = []
    for index in range(senders):
        delegated = sorted(rng.sample(numbers, rng.randint(2, min(4, accounts))))
        notify = "rejections" if index % 3 == 2 else "all"
        made.append(PartnerSender(f"BRK{index + 1:02d}", f"edi@broker{index + 1:02d}.example",
                                  notify, tuple(delegated), weight=1.0 / (index + 1)))
    return Partners(tuple(made), tuple(numbers))


@dataclass(frozen=True)
class Message:
    """One message of the traffic and what the generator meant it to be."""

    sequence: int
    sender: str
    kind: str
    syntax: str
    lines: int
    defect: str | None
    message_id: str
    payload: bytes

    @property
    def valid(self) -> bool:
        return self.defect is None


@dataclass(frozen=True)
class _Template:
    """A declaration body without its identifiers: lines, currency and computed totals."""

    lines: int
    currency: str
    exchange_rate: str
    line_block: str
    totals: tuple[Decimal, Decimal, Decimal, Decimal]
    declared: bool


@dataclass
class _Posted:
    transaction_number: str
    account: str
    total: Decimal
    allocated: bool = False
    appealed: bool = False


def edifact_converter() -> tuple[Callable[[bytes, str], bytes] | None, str]:
    """A function from XML bytes and an interchange reference to EDIFACT bytes, if the
    gateway has one (`from_xml_to_edifact` takes the decoded Declaration or Payment)."""
    try:
        from gateway.codec import edifact  # noqa: PLC0415
    except ImportError as error:
        return None, f"gateway.codec.edifact cannot be imported: {error}"
    from_xml = getattr(edifact, "from_xml_to_edifact", None)
    if not callable(from_xml):
        return None, "gateway.codec.edifact does not expose from_xml_to_edifact"
    from gateway.codec.xml_documents import decode  # noqa: PLC0415
    from gateway.codec.xml_parser import parse  # noqa: PLC0415

    def convert(payload: bytes, reference: str) -> bytes:
        return bytes(from_xml(decode(parse(payload)), reference=reference))

    return convert, "gateway.codec.edifact.from_xml_to_edifact"


def edifact_available() -> tuple[bool, str]:
    """Whether EDIFACT traffic can be produced, and what was found."""
    converter, note = edifact_converter()
    return converter is not None, note


@dataclass
class Traffic:
    """An endless, seeded stream of messages; `stream` keeps identifiers of streams apart.

    `mix="realistic"` is the mixed traffic; `mix="declaration-10"` sends only valid 10-line
    declarations (the issue's ingest figure); `mix="declaration-10-large"` sends the same with
    every LARGE_EVERY-th a valid 999-line declaration (the check worker's figure).
    """

    partners: Partners
    seed: int = 1
    stream: int = 0
    mix: str = "realistic"
    invalid_share: float = INVALID_SHARE_DEFAULT
    edifact_share: float = 0.0
    today: date | None = None
    run_tag: str = "B"
    _rng: random.Random = field(init=False, repr=False)
    _templates: dict[int, list[_Template]] = field(init=False, repr=False)
    _posted: dict[str, list[_Posted]] = field(init=False, repr=False)
    _sequence: int = field(init=False, default=0)
    _converter: Callable[[bytes, str], bytes] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.mix not in MIXES:
            raise ValueError(f"unknown mix {self.mix!r}")
        if not 0 <= self.stream < 100:
            raise ValueError("stream must be 0 to 99")
        self._rng = random.Random(f"traffic-{self.seed}-{self.stream}-{self.mix}")
        self.today = self.today or datetime.now(EASTERN).date()
        self._templates = {}
        self._posted = {number: [] for number in self.partners.accounts}
        if self.edifact_share > 0:
            self._converter, _ = edifact_converter()
            if self._converter is None:
                self.edifact_share = 0.0
        self._build_templates()

    # ---- templates -------------------------------------------------------------------------

    def _line_count(self) -> int:
        if self.mix == "declaration-10-large":
            return LARGE_LINES if self._sequence % LARGE_EVERY == 0 else 10
        if self.mix == "declaration-10":
            return 10
        pick = self._rng.random()
        for weight, lowest, highest in LINE_COUNT_BANDS:
            if pick < weight:
                return self._rng.randint(lowest, highest)
            pick -= weight
        return self._rng.randint(5, 20)

    def _build_templates(self) -> None:
        realistic = self.mix == "realistic"
        for _ in range(TEMPLATES_PER_STREAM if realistic else 60):
            self._add_template(self._line_count() if realistic else 10)
        for _ in range(2 if self.mix == "declaration-10-large" else 0):
            self._add_template(LARGE_LINES)
        self._template_keys = sorted(self._templates)

    def _add_template(self, line_count: int) -> None:
        template = self._template(line_count)
        self._templates.setdefault(template.lines, []).append(template)

    def _template(self, line_count: int) -> _Template:
        rng = self._rng
        currency, rate = rng.choice(CURRENCIES)
        blocks = []
        duty = excise = gst = Decimal("0.00")
        for number in range(1, line_count + 1):
            hs_code, description, unit, duty_rate = rng.choice(GOODS)
            value = Decimal(rng.randrange(1_000, 5_000_000)) / 100
            quantity = Decimal(rng.randint(1, 500))
            excise_tax = (Decimal(rng.randrange(100, 50_000)) / 100
                          if hs_code in EXCISE_GOODS else None)
            gst_rate = Decimal("5") if rng.random() < 0.2 else None
            line = DeclarationLine(
                number=number, hs_code=hs_code, description=description,
                country_of_origin=rng.choice(COUNTRIES), tariff_treatment=rng.choice(TREATMENTS),
                quantity=quantity, unit=unit, value=value, duty_rate=Decimal(duty_rate),
                excise_tax=excise_tax if excise_tax is not None else Decimal(0),
                gst_rate=gst_rate if gst_rate is not None else Decimal(5), reason_code=None,
            )
            assessed = assess_line(line, Decimal(rate))
            duty += assessed.duty
            excise += assessed.excise_tax
            gst += assessed.gst
            optional = ""
            if excise_tax is not None:
                optional += f"\n    <ExciseTax>{format_amount(excise_tax)}</ExciseTax>"
            if gst_rate is not None:
                optional += f"\n    <GSTRate>{gst_rate}</GSTRate>"
            blocks.append(
                f"\n  <Line>\n    <Number>{number}</Number>\n    <HSCode>{hs_code}</HSCode>"
                f"\n    <Description>{description}</Description>"
                f"\n    <CountryOfOrigin>{line.country_of_origin}</CountryOfOrigin>"
                f"\n    <TariffTreatment>{line.tariff_treatment}</TariffTreatment>"
                f"\n    <Quantity unit=\"{unit}\">{quantity}</Quantity>"
                f"\n    <Value>{format_amount(value)}</Value>"
                f"\n    <DutyRate>{duty_rate}</DutyRate>{optional}\n  </Line>"
            )
        totals = (duty, excise, gst, duty + excise + gst)
        declared = self.mix != "realistic" or rng.random() < 0.9
        return _Template(line_count, currency, rate, "".join(blocks), totals, declared)

    # ---- the stream ------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        return self.next_message()

    def take(self, count: int) -> list[Message]:
        return [self.next_message() for _ in range(count)]

    def next_message(self) -> Message:
        self._sequence += 1
        sender = self._pick_sender()
        account = self._rng.choice(sender.accounts)
        if self.mix != "realistic":
            return self._declaration(sender, account, defect=None)
        if self._rng.random() < self.invalid_share:
            return self._declaration(sender, account, defect=self._rng.choice(DEFECTS))
        kind = self._pick_kind()
        if kind == "payment":
            payment = self._payment(sender, account)
            if payment is not None:
                return payment
        if kind == "appeal":
            return self._appeal(sender, account)
        if kind == "account-request":
            return self._account_request(sender, account)
        return self._declaration(sender, account, defect=None)

    def _pick_sender(self) -> PartnerSender:
        senders = self.partners.senders
        return self._rng.choices(senders, weights=[s.weight for s in senders])[0]

    def _pick_kind(self) -> str:
        pick = self._rng.random()
        for weight, kind in REALISTIC_MIX:
            if pick < weight:
                return kind
            pick -= weight
        return "declaration"

    def _message_id(self, sender: PartnerSender) -> str:
        return f"{sender.id}-{self.run_tag}{self.seed % 1000:03d}-{self.stream:02d}-" \
               f"{self._sequence:09d}"

    def _transaction_number(self) -> str:
        body = f"{self.seed % 1000:03d}{self.stream:02d}{self._sequence:08d}"
        return body + luhn_check_digit(body)

    def _header(self, sender: PartnerSender, message_id: str) -> str:
        sent = f"{self.today.isoformat()}T09:{self._sequence // 60 % 60:02d}:" \
               f"{self._sequence % 60:02d}-05:00"
        return (f"\n  <Header>\n    <MessageID>{message_id}</MessageID>\n"
                f"    <Sender>{sender.id}</Sender>\n    <SentAt>{sent}</SentAt>\n  </Header>")

    def _template_for(self) -> _Template:
        wanted = self._line_count()
        key = min(self._template_keys, key=lambda lines: abs(lines - wanted))
        return self._rng.choice(self._templates[key])

    def _declaration(self, sender: PartnerSender, account: str, defect: str | None) -> Message:
        template = self._template_for()
        message_id = self._message_id(sender)
        transaction = self._transaction_number()
        if defect == "TXN001":
            transaction = transaction[:-1] + wrong_digit(transaction[-1])
        stated_account = account
        if defect == "ACC001":
            stated_account = account[:8] + wrong_digit(account[8]) + account[9:]
        if defect == "DEC001" and not template.declared:
            defect = "SCH001"
        line_block = template.line_block
        if defect == "SCH001":
            start = line_block.index("<HSCode>") + len("<HSCode>")
            line_block = line_block[:start] + line_block[start:start + 8] + line_block[start + 10:]
        totals = ""
        if template.declared:
            duty, excise, gst, total = template.totals
            if defect == "DEC001":
                total += Decimal("0.01")
            totals = (f"\n  <DeclaredTotals>\n    <Duty>{format_amount(duty)}</Duty>"
                      f"\n    <ExciseTax>{format_amount(excise)}</ExciseTax>"
                      f"\n    <GST>{format_amount(gst)}</GST>"
                      f"\n    <Total>{format_amount(total)}</Total>\n  </DeclaredTotals>")
        release = self.today - timedelta(days=self._rng.randint(0, 1))
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Declaration xmlns="{NAMESPACE}">'
            f"{self._header(sender, message_id)}"
            f"\n  <TransactionNumber>{transaction}</TransactionNumber>"
            f"\n  <Version>1</Version>\n  <Purpose>original</Purpose>"
            f"\n  <ImporterAccount>{stated_account}</ImporterAccount>"
            f"\n  <ReleaseDate>{release.isoformat()}</ReleaseDate>"
            f"\n  <Currency>{template.currency}</Currency>"
            f"\n  <ExchangeRate>{template.exchange_rate}</ExchangeRate>"
            f"{line_block}{totals}\n</Declaration>\n"
        )
        message = self._finish(sender, "declaration", template.lines, defect, message_id, text)
        if defect is None and message.syntax == "xml":
            # payments and appeals refer only to what any gateway version will have posted
            self._posted[account].append(_Posted(transaction, account, template.totals[3]))
        return message

    def _payment(self, sender: PartnerSender, account: str) -> Message | None:
        open_items = [item for item in self._posted[account][-200:] if not item.allocated]
        if not open_items:
            return None
        chosen = self._rng.sample(open_items, min(len(open_items), self._rng.randint(1, 5)))
        allocations = []
        amount = Decimal("0.00")
        for item in chosen:
            item.allocated = True
            paid = item.total if self._rng.random() < 0.8 else (item.total / 2).quantize(
                Decimal("0.01"))
            if paid <= 0:
                continue
            amount += paid
            allocations.append(
                f"\n  <Allocation>\n    <TransactionNumber>{item.transaction_number}"
                f"</TransactionNumber>\n    <Amount>{format_amount(paid)}</Amount>\n"
                "  </Allocation>")
        if amount <= 0:
            return None
        message_id = self._message_id(sender)
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Payment xmlns="{NAMESPACE}">'
            f"{self._header(sender, message_id)}"
            f"\n  <PaymentReference>PAY-{self.stream:02d}-{self._sequence:09d}"
            "</PaymentReference>"
            f"\n  <ImporterAccount>{account}</ImporterAccount>"
            f"\n  <Amount>{format_amount(amount)}</Amount>"
            f"\n  <Method>{self._rng.choice(METHODS)}</Method>"
            f"\n  <ReceivedOn>{self.today.isoformat()}</ReceivedOn>{''.join(allocations)}"
            "\n</Payment>\n"
        )
        return self._finish(sender, "payment", len(allocations), None, message_id, text)

    def _appeal(self, sender: PartnerSender, account: str) -> Message:
        candidates = [item for item in self._posted[account][-200:] if not item.appealed]
        decision = self.today - timedelta(days=self._rng.randint(1, 60))
        if candidates and self._rng.random() < 0.8:
            item = self._rng.choice(candidates)
            item.appealed = True
            disputed = (item.total / 3).quantize(Decimal("0.01"))
            subject = (f"\n  <Type>redetermination</Type>"
                       f"\n  <ImporterAccount>{account}</ImporterAccount>"
                       f"\n  <TransactionNumber>{item.transaction_number}</TransactionNumber>"
                       f"\n  <DecisionDate>{decision.isoformat()}</DecisionDate>"
                       f"\n  <DisputedAmount>{format_amount(disputed)}</DisputedAmount>")
        else:
            subject = (f"\n  <Type>penalty</Type>\n  <ImporterAccount>{account}</ImporterAccount>"
                       f"\n  <PenaltyNumber>PEN-{self.stream:02d}-{self._sequence:09d}"
                       "</PenaltyNumber>"
                       f"\n  <DecisionDate>{decision.isoformat()}</DecisionDate>")
        message_id = self._message_id(sender)
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Appeal xmlns="{NAMESPACE}">'
            f"{self._header(sender, message_id)}{subject}"
            "\n  <Grounds>The goods were classified under a heading that does not describe"
            " them; the correct tariff item is free under the tariff treatment claimed."
            "</Grounds>\n</Appeal>\n"
        )
        return self._finish(sender, "appeal", 0, None, message_id, text)

    def _account_request(self, sender: PartnerSender, account: str) -> Message:
        message_id = self._message_id(sender)
        text = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<AccountRequest xmlns="{NAMESPACE}">'
            f"{self._header(sender, message_id)}\n  <Type>reconciliation</Type>"
            f"\n  <ImporterAccount>{account}</ImporterAccount>"
            "\n  <Details>Please reconcile the payments of last month against the statement."
            "</Details>\n</AccountRequest>\n"
        )
        return self._finish(sender, "account-request", 0, None, message_id, text)

    def _finish(self, sender: PartnerSender, kind: str, lines: int, defect: str | None,
                message_id: str, text: str) -> Message:
        payload = text.encode("utf-8")
        syntax = "xml"
        if (self._converter is not None and defect is None
                and kind in ("declaration", "payment")
                and self._rng.random() < self.edifact_share):
            # the interchange reference (at most 14 characters) makes the MessageID unique
            reference = f"E{self.stream:02d}{self._sequence:09d}"
            payload = self._converter(payload, reference)
            message_id = f"{reference}/1"
            syntax = "edifact"
        return Message(self._sequence, sender.id, kind, syntax, lines, defect, message_id,
                       payload)


def declaration_of_lines(partners: Partners, lines: int, seed: int = 1) -> bytes:
    """One valid declaration of exactly `lines` lines (micro-benchmarks: 1, 10, 100, 999)."""
    traffic = Traffic(partners, seed=seed, stream=99, mix="declaration-10")
    template = traffic._template(lines)
    traffic._templates = {lines: [template]}
    traffic._template_keys = [lines]
    traffic.mix = "declaration-10"
    sender = partners.senders[0]
    return traffic._declaration(sender, sender.accounts[0], defect=None).payload


def _main() -> int:
    parser = argparse.ArgumentParser(description="Write a sample of the benchmark's traffic.")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mix", choices=("realistic", "declaration-10"), default="realistic")
    parser.add_argument("--edifact-share", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True)
    arguments = parser.parse_args()
    partners = make_partners(arguments.seed)
    arguments.out.mkdir(parents=True, exist_ok=True)
    partners.write(arguments.out / "partners.toml")
    traffic = Traffic(partners, seed=arguments.seed, mix=arguments.mix,
                      edifact_share=arguments.edifact_share)
    for message in traffic.take(arguments.count):
        suffix = "edi" if message.syntax == "edifact" else "xml"
        name = f"{message.sequence:06d}-{message.sender}-{message.kind}-" \
               f"{message.defect or 'valid'}.{suffix}"
        (arguments.out / name).write_bytes(message.payload)
    print(f"{arguments.count} messages and partners.toml in {arguments.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
