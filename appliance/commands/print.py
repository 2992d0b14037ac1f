"""`ceremony print LOG [--pdf FILE] [--printer NAME] [--copies N] [--paper a4|letter] [--max-pages N]`.

Reprints a ceremony log (from a stick: hostile input, so opened without following links or
blocking, capped, and shown escaped) through the same code as the console, or with `--pdf` only
writes its PDF.
"""

from __future__ import annotations

from pathlib import Path

from appliance import safefile
from appliance.errors import UsageError
from appliance.printing import cups
from appliance.printing.document import PAPER_SIZES, build_log_pdf, page_count
from appliance.printing.job import print_log
from appliance.text import shown

MAX_LOG_SIZE = 8 << 20  # bytes; a long ceremony's log is a few hundred kilobytes
# A copy of a real log is a few dozen pages; a file from a stick can make thousands (8 MiB of bytes
# that are not text, each printed as a 4-column escape), and paper is not to be spent on it unasked.
MAX_PAGES = 200
PDF_INSTEAD = "or write the PDF with --pdf FILE and print it on another computer"


def register(subparsers) -> None:
    parser = subparsers.add_parser("print", help="print a ceremony log (or write its PDF)")
    parser.add_argument("log", type=Path, metavar="LOG", help="the ceremony log (ceremony-*.log)")
    parser.add_argument("--pdf", type=Path, metavar="FILE", help="only write the PDF to FILE (must not exist)")
    parser.add_argument("--printer", metavar="NAME", help="CUPS queue (default: the only printer there is)")
    parser.add_argument("--copies", type=int, default=1, metavar="N",
                        help=f"copies to print, 1 to {cups.MAX_COPIES} (default 1)")
    parser.add_argument("--paper", choices=sorted(PAPER_SIZES), default="a4", help="paper size (default a4)")
    parser.add_argument("--max-pages", type=int, default=MAX_PAGES, metavar="N",
                        help=f"print or write nothing if the log makes more pages a copy (default {MAX_PAGES})")
    parser.set_defaults(handler=run)


def read_log(path: Path) -> bytes:
    """The log's bytes, read through appliance.safefile: a regular file (no link, FIFO, device or
    directory), at most MAX_LOG_SIZE. Raises UsageError (LOG-FILE) for anything that cannot be
    read, an I/O error of a failing or pulled stick included."""
    try:
        return safefile.read_capped(path, MAX_LOG_SIZE)
    except OSError as exc:
        raise UsageError(f"LOG-FILE: cannot read {shown(str(path))}: {exc.strerror or exc}") from None


def choose_printer(name: str | None) -> cups.Printer:
    """The printer asked for, or the only one there is. Raises UsageError naming what is there."""
    printers = cups.list_printers()
    if name is not None:
        for printer in printers:
            if printer.name == name:
                return printer
        raise UsageError(f"no printer named {shown(name)}; printers: "
                         f"{', '.join(p.name for p in printers) or 'none'}")
    if not printers:
        raise UsageError(f"no printer found: plug one in, {PDF_INSTEAD}")
    if len(printers) > 1:
        # One line: the error is shown escaped (a line break would print as \n).
        raise UsageError("several printers: name one with --printer" + "".join(f"; {p.describe()}" for p in printers))
    return printers[0]


def run(args) -> int:
    log = read_log(args.log)
    pages = page_count(log, args.paper)
    if pages > args.max_pages:
        raise UsageError(f"LOG-PAGES: {shown(str(args.log))} makes {pages} pages a copy, more than --max-pages "
                         f"{args.max_pages}; nothing printed or written")
    if args.pdf is not None:
        if args.printer is not None or args.copies != 1:
            raise UsageError("--pdf only writes the PDF: --printer and --copies do not go with it")
        if args.pdf.exists() or args.pdf.is_symlink():
            raise UsageError(f"{shown(str(args.pdf))} exists; not overwritten")
        document = build_log_pdf(log, paper=args.paper)
        try:
            safefile.write_file(args.pdf, document.pdf)  # refuses anything already at the name
        except OSError as exc:
            raise UsageError(f"cannot write {shown(str(args.pdf))}: {exc.strerror or exc}") from None
        print(f"Wrote {shown(str(args.pdf))}: {document.pages} pages ({args.paper}), "
              f"log SHA-256 {document.log_sha256}")
        return 0
    if not 1 <= args.copies <= cups.MAX_COPIES:
        raise UsageError(f"--copies must be from 1 to {cups.MAX_COPIES}")
    try:
        printer = choose_printer(args.printer)
    except cups.PrintingError as exc:  # no scheduler to ask: CUPS not running or not installed
        raise cups.PrintingError(f"{exc}; {PDF_INSTEAD}") from None
    print(f"Printer {printer.describe()}")
    document, outcome = print_log(log, printer.name, args.copies, paper=args.paper)
    print(f"{document.pages} pages ({args.paper}), log SHA-256 {document.log_sha256}")
    print(outcome.describe())
    if not outcome.done:
        raise cups.PrintingError(f"printing failed on {printer.name}")
    return 0
