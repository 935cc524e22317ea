"""The contract's problem codes (CONTRACT section 3), with severities and fix hints."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class CodeInfo:
    severity: Severity
    meaning: str
    fix: str


CODES: dict[str, CodeInfo] = {
    "XML001": CodeInfo("error", "not well-formed, not UTF-8, or neither XML nor EDIFACT",
                       "Send one well-formed UTF-8 XML document or one EDIFACT interchange."),
    "XML002": CodeInfo("error", "forbidden construct: DOCTYPE, entity, XInclude",
                       "Remove the DOCTYPE, entity declarations and XInclude elements."),
    "XML003": CodeInfo("error", "larger than the configured maximum",
                       "Split the content over several messages below the size limit."),
    "SCH001": CodeInfo("error", "schema violation",
                       "Correct the element at the given path to match schemas/messages.xsd."),
    "EDI001": CodeInfo("error", "EDIFACT syntax error",
                       "Correct the segment at the given position."),
    "EDI002": CodeInfo("error", "EDIFACT envelope mismatch",
                       "Make UNT, UNZ counts and references match the interchange."),
    "EDI003": CodeInfo("error", "unsupported EDIFACT message type or version",
                       "Send CUSDEC or REMADV in directory D96B or D21A."),
    "AUTH002": CodeInfo("error", "sender differs from the sender of the topic",
                        "Publish on carm/v1/in/{your id} with your id in Header/Sender."),
    "AUTH003": CodeInfo("error", "the sender is not registered",
                        "Ask the gateway operator to register your partner id."),
    "ACC001": CodeInfo("error", "importer account malformed or its BN9 check digit is wrong",
                       "Give the RM account as 9 digits, RM, 4 digits, e.g. 123456782RM0001."),
    "ACC002": CodeInfo("error", "importer account not registered with the gateway",
                       "Ask the gateway operator to register the importer account."),
    "AUTH001": CodeInfo("error", "the sender is not delegated for this importer account",
                        "Ask the importer to delegate this account to you."),
    "TXN001": CodeInfo("error", "transaction number check digit is wrong",
                       "Check the 14-digit transaction number; its last digit is a check digit."),
    "DEC001": CodeInfo("error", "declared totals differ from the computed assessment",
                       "Recompute the totals (section 4 of the contract) or omit DeclaredTotals."),
    "DEC002": CodeInfo("error", "transaction number and version taken, or not the next version",
                       "Send the next version after the previous one was acknowledged."),
    "DEC003": CodeInfo("error", "a correction after its payment due date",
                       "Send the change as an adjustment with reason codes."),
    "DEC004": CodeInfo("warning", "declaration received after the 5th business day after release",
                       "Account for releases within 5 business days."),
    "DEC005": CodeInfo("error", "a changed or new line without a ReasonCode",
                       "Give a ReasonCode on every changed or new line."),
    "DEC006": CodeInfo("error", "correction or adjustment of a transaction with no posted version",
                       "Send the original declaration (Version 1) first."),
    "DEC007": CodeInfo("error", "Currency CAD with an ExchangeRate other than 1",
                       "Use ExchangeRate 1 for CAD amounts."),
    "DEC008": CodeInfo("error", "Purpose does not fit Version, or account or release date changed",
                       "Use original for Version 1, correction or adjustment after it; keep "
                       "ImporterAccount and ReleaseDate."),
    "PAY001": CodeInfo("error", "explicit allocations add up to more than the payment",
                       "Make the allocations add up to at most the payment amount."),
    "PAY002": CodeInfo("error", "allocation to an unknown transaction, another account's, "
                                "or one that owes less",
                       "Allocate only to this account's transactions, up to what each owes."),
    "PAY003": CodeInfo("error", "payment reference already used for this account",
                       "Give each payment a new PaymentReference."),
    "APL001": CodeInfo("error", "appeal filed more than 90 days after the decision date",
                       "Apply for an extension of time (Customs Act s.129.1) instead."),
    "APL002": CodeInfo("error", "an appeal of the same decision exists",
                       "Add information to the open appeal instead of filing a new one."),
    "APL003": CodeInfo("error", "appealed transaction unknown for this account",
                       "Check the TransactionNumber and ImporterAccount."),
    "APL004": CodeInfo("error", "the appeal's Type does not match the reference given",
                       "Give a TransactionNumber for redetermination, a PenaltyNumber for a "
                       "penalty."),
    "DUP001": CodeInfo("info", "a re-send of a message already processed",
                       "Nothing to do: this repeats the original outcome."),
    "DUP002": CodeInfo("error", "message id already used by this sender for different content",
                       "Give every new or corrected message a new MessageID."),
    "GW001": CodeInfo("error", "internal failure after all retries",
                      "Nothing to do: the gateway replays the message and sends a final outcome."),
}


@dataclass(frozen=True)
class Problem:
    code: str
    severity: Severity
    text: str
    path: str | None = None
    line: int | None = None


def problem(code: str, text: str, path: str | None = None, line: int | None = None) -> Problem:
    """A problem with the severity the contract gives its code."""
    return Problem(code, CODES[code].severity, text, path, line)


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == "error" for p in problems)
