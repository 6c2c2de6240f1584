"""``rag ask "QUESTION" --collection NAME``: a grounded answer with its sources."""

from __future__ import annotations

import sys

from rag.cli.output import print_json
from rag.cli.search_cmd import add_retrieval_options, request_fields


def add_parser(sub) -> None:
    p = sub.add_parser("ask", help="answer a question from a collection, with citations",
                       description="Answer from the collection's passages only, citing them; "
                       "says so when the documents do not hold the answer.")
    p.add_argument("query", metavar="QUESTION")
    p.add_argument("--collection", "-c", required=True)
    add_retrieval_options(p)
    p.add_argument("--max-tokens", type=int, default=384, help="longest answer in tokens (default 384)")
    p.add_argument("--stream", action="store_true", help="print the answer as it is generated")
    p.add_argument("--json", action="store_true", help="print the response object as JSON")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from rag.cli.validation import build
    from rag.pipeline import RAGService
    from rag.schemas import AskRequest

    request = build(AskRequest, **request_fields(args, settings), max_tokens=args.max_tokens)
    service = RAGService(settings)
    service.warm_up()  # load the models first, so the timings show the work alone
    if args.json:
        print_json(service.ask(args.collection, request))
        return 0
    response = None
    streamed = False
    for event in service.ask_stream(args.collection, request):
        if event.event == "token" and args.stream:
            sys.stdout.write(event.delta)
            sys.stdout.flush()
            streamed = True
        elif event.event == "done":
            response = event.response
    if streamed:
        print()
    print_answer(response, show_text=not streamed)
    return 0


def print_answer(response, *, show_text: bool = True) -> None:
    """The answer, then its sources with page and quoted span."""
    if show_text:
        print(response.answer)
    if not response.answerable:
        if response.reason:
            print(f"({response.reason})")
        return
    if response.citations:
        print("\nSources:")
        for c in response.citations:
            where = f", page {c.page}" if c.page else ""
            quote = " ".join(c.quote.split())
            if len(quote) > 300:
                quote = quote[:299] + "…"
            print(f"  [{c.marker}] {c.title}{where} — {c.source}")
            print(f"      \"{quote}\"")
    else:
        print("\n(the model cited no passage; treat this answer with care)")
    t = response.timings
    print(f"\n({t.get('retrieve', 0):.2f} s retrieval, {t.get('generate', 0):.1f} s generation, model {response.model})")
