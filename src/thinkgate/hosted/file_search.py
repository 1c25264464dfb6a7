"""`file_search` as a hosted tool: the model calls `file_search(query)`; the caller's vector
stores are searched (retrieval's hybrid index) for it and for the user's last message; the
best excerpts, each with its file's name, are what the model reads; the public item is a
`file_search_call` with its `queries` and, with `include: ["file_search_call.results"]`,
its `results`.

    declared: vector_store_ids (the caller's own, else the call fails: "not found"),
              max_num_results (1–50, default 10), filters, ranking_options
    answer:   a `file_citation` (file id, name, index in the text) where the answer names
              a file it was given or repeats five words in a row of one of its excerpts
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from thinkgate.errors import InvalidRequestError
from thinkgate.files.access import owned_vector_store, touch_vector_store
from thinkgate.files.rows import VectorStoreRow
from thinkgate.hosted.base import CallOutcome, FileSource, HostedCall, Tool
from thinkgate.retrieval.embedders import ModelUnavailable
from thinkgate.retrieval.hybrid import check_search
from thinkgate.retrieval.index import ChunkIndex, Hit, RankingOptions
from thinkgate.store.database import Database

RESULTS = "file_search_call.results"
# (owner, vector store id) → whether that store is the owner's
StoreCheck = Callable[[str | None, str], Awaitable[bool]]
_DEFAULT_RESULTS = 10
_CONTEXT_CHARS = 4000  # what the model reads of the excerpts, all together
_EXCERPT_CHARS = 1200
_QUERY_CHARS = 48  # a small model's query stays a query (it may fill it all)
_QUESTION_CHARS = 256
_SHINGLE = 5
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?\n]")


class FileSearch:
    types: ClassVar[tuple[str, ...]] = ("file_search",)
    item_type: ClassVar[str] = "file_search_call"
    id_prefix: ClassVar[str] = "fs"
    price_key: ClassVar[str] = "file_search"
    opening: ClassVar[tuple[str, ...]] = ("response.file_search_call.in_progress",)
    working: ClassVar[tuple[str, ...]] = ("response.file_search_call.searching",)
    closing: ClassVar[tuple[str, ...]] = ("response.file_search_call.completed",)

    def __init__(self, index: ChunkIndex, owns: StoreCheck) -> None:
        self._index = index
        self._owns = owns

    def functions(self, declared: Tool) -> list[Tool]:
        return [
            {
                "type": "function",
                "name": "file_search",
                "description": (
                    "Search the user's files for passages that answer a question. Returns "
                    "numbered excerpts, each with its file name; name the file of each "
                    "excerpt you use in your answer."
                ),
                "parameters": {
                    "type": "object",
                    "properties": {
                        "query": {
                            "type": "string",
                            "description": "What to look for in the files.",
                            "maxLength": _QUERY_CHARS,
                        }
                    },
                    "required": ["query"],
                    "additionalProperties": False,
                },
                "strict": False,
            }
        ]

    def begin(self, call: HostedCall) -> None:
        call.item.update(
            type=self.item_type, status="in_progress", queries=_queries(call), results=None
        )

    async def run(self, call: HostedCall) -> CallOutcome:
        query = _query(call.arguments)
        if not query:
            return self._failed(call, "the call needs a non-empty 'query' string")
        queries = _queries(call)
        declared = call.declared
        stores = [str(s) for s in declared.get("vector_store_ids") or ()]
        for store in stores:
            if not await self._owns(call.turn.owner, store):
                return self._failed(call, f"no vector store with id '{store}' was found")
        ranking = declared.get("ranking_options") or {}
        hybrid = ranking.get("hybrid_search") or {}
        options = RankingOptions(
            ranker=str(ranking.get("ranker") or "auto"),
            score_threshold=float(ranking.get("score_threshold") or 0.0),
            embedding_weight=float(hybrid.get("embedding_weight", 1.0)),
            text_weight=float(hybrid.get("text_weight", 1.0)),
        )
        limit = int(declared.get("max_num_results") or _DEFAULT_RESULTS)
        try:
            check_search(limit, options)
            hits = await self._index.search(
                stores, queries, declared.get("filters"), limit, options
            )
        except (InvalidRequestError, ModelUnavailable) as error:
            return self._failed(call, error.message)
        item: dict[str, Any] = {**call.item, "status": "completed", "queries": queries}
        if RESULTS in call.include:
            item["results"] = [_result(hit) for hit in hits]
        files = tuple(FileSource(h.file_id, h.filename, h.text) for h in hits)
        return CallOutcome(item, _context(query, hits), files=files)

    def _failed(self, call: HostedCall, reason: str) -> CallOutcome:
        return CallOutcome({**call.item, "status": "failed"}, f"File search failed: {reason}.")

    async def aclose(self) -> None:
        return None


def file_citations(text: str, files: Sequence[FileSource]) -> list[dict[str, Any]]:
    """One `file_citation` per file the answer uses, at the end of where it uses it (after
    the file's name, else after the sentence that repeats its excerpt), in text order."""
    found: list[tuple[int, FileSource]] = []
    cited: set[str] = set()
    words = [(m.group().lower(), m.end()) for m in _WORD.finditer(text)]
    for source in files:
        if source.file_id in cited:
            continue
        at = _cited_at(text, words, source)
        if at is not None:
            cited.add(source.file_id)
            found.append((at, source))
    found.sort(key=lambda pair: pair[0])
    return [
        {"type": "file_citation", "file_id": s.file_id, "filename": s.filename, "index": at}
        for at, s in found
    ]


def _cited_at(text: str, words: list[tuple[str, int]], source: FileSource) -> int | None:
    if source.filename:
        start = text.find(source.filename)
        if start >= 0:
            return start + len(source.filename)
    excerpt = [w.lower() for w in _WORD.findall(source.text)]
    shingles = {tuple(excerpt[i : i + _SHINGLE]) for i in range(len(excerpt) - _SHINGLE + 1)}
    for i in range(len(words) - _SHINGLE + 1):
        if tuple(w for w, _ in words[i : i + _SHINGLE]) in shingles:
            return _sentence_end(text, words[i + _SHINGLE - 1][1])
    return None


def _sentence_end(text: str, at: int) -> int:
    """After the sentence's stop (.!?), or before the line break that ends it."""
    stop = _SENTENCE_END.search(text, at)
    if stop is None:
        return len(text)
    return stop.start() if stop.group() == "\n" else stop.end()


def _result(hit: Hit) -> dict[str, Any]:
    return {
        "file_id": hit.file_id,
        "filename": hit.filename,
        "score": hit.score,
        "text": hit.text,
        "attributes": dict(hit.attributes),
    }


def _context(query: str, hits: Sequence[Hit]) -> str:
    if not hits:
        return f'No passages in the files match "{query}".'
    lines = [f'Excerpts from the files for "{query}":']
    left = _CONTEXT_CHARS
    for number, hit in enumerate(hits, start=1):
        if left <= 0:
            break
        body = hit.text.strip()[: min(_EXCERPT_CHARS, left)]
        left -= len(body)
        lines.append(f"[{number}] File: {hit.filename}\n{body}")
    return "\n\n".join(lines)


def _queries(call: HostedCall) -> list[str]:
    """The model's query, and the user's own question beside it: a small model's query can
    miss what its user asked, and the fusion of both lists loses little when it does not."""
    queries = []
    query = _query(call.arguments)
    if query:
        queries.append(query)
    lines = [line.strip() for line in call.turn.client_text.splitlines() if line.strip()]
    question = lines[-1][:_QUESTION_CHARS] if lines else ""
    if question and question.lower() != (query or "").lower():
        queries.append(question)
    return queries


def _query(arguments: dict[str, Any] | None) -> str | None:
    query = (arguments or {}).get("query")
    return query.strip()[:_QUERY_CHARS] if isinstance(query, str) and query.strip() else None


def file_search_for(index: ChunkIndex, database: Database) -> FileSearch:
    """The tool over the server's index, reading only stores the caller owns (a store of
    another user, an expired one or a missing one are alike: not found)."""

    async def owns(owner: str | None, store: str) -> bool:
        if owner is None:  # no keys (an open server): every store is the caller's
            async with database.session() as session:
                row = await session.get(VectorStoreRow, store)
            return row is not None
        record = await owned_vector_store(database, owner, store)
        if record is None or record.expired():
            return False
        await touch_vector_store(database, store)
        return True

    return FileSearch(index, owns)
