"""Online mining of message templates: group log messages by the logging call that wrote them.

Usage::

    miner = TemplateMiner(max_clusters=10_000)
    m = miner.add("connect to 10.0.0.1:5432 failed after 3 tries", key="db")
    m.group_id, m.template   # 1, 'connect to {IP} failed after {N} tries'
    miner.match("connect to 10.0.0.2:5432 failed after 1 tries", key="db")  # no learning

The algorithm, and why (Drain, Brain and PIPLUP were read; where each fails is the design):

1. **Mask** the values (:mod:`.masking`) and **tokenize** (:mod:`.tokens`): a token with a digit
   or placeholder is variable, adjacent variable tokens are one position, at most ``MAX_TOKENS``
   positions are looked at. Masked messages repeat exactly, so two caches (raw text, masked
   text -> group) answer most messages without mining.
2. **Candidates** are the clusters of the same ``key`` and position count that share at least
   one constant word *at the same position* (an inverted index per bucket). Drain keys its tree
   on the first tokens and so splits a format whose first token is a value without digits (a
   host, a program name); like PIPLUP we key on the length and any shared constant instead.
3. **Similarity** counts equal words in place (a constant, or the key of ``key=value``) against
   the larger number of words of either side; plain values are neutral on both sides. A message
   joins the most similar cluster *above* :data:`SIMILARITY` (more than half of the words agree;
   ties: the older group); otherwise it starts one.
4. **Other lengths**: a message that finds no cluster of its length is aligned at both ends
   with the clusters of other lengths (:func:`.tokens.align_ends`): a value spanning one token
   here and three there (an unquoted reason, a host name printed or empty) is one position.
   Drain cannot group these at all; the cluster then moves to its new, shorter length.
5. **Widening**: positions where a member disagrees become variable (keeping a common prefix
   or suffix, ``rhost={*}``). A cluster whose template widened is compared with its bucket's
   other clusters, and one that now differs from it only in variable positions is merged into
   the older group: its id redirects (:meth:`TemplateMiner.resolve`), the older id stays.
6. **Bounded memory**: at most ``max_clusters`` clusters; the least recently used is evicted.
   The caches and the redirect table are bounded too (see :class:`TemplateMiner`).

Group ids are stable: a group keeps its id while its template widens; a merged group's id
resolves to the group it was merged into.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from tailer.analysis.masking import mask
from tailer.analysis.tokens import WILD, align_ends, stretch_template, tokenize, widen

#: Share of words two messages of one format have in common, at least (exclusive).
SIMILARITY = 0.5

_Words = list[str | None]
_Cache = dict[tuple[str, str], int]

#: How many tokens more or fewer than its template a message may have (see ``_stretch``).
MAX_STRETCH = 8

#: Characters of a message that are masked and mined; the rest is one variable tail.
MAX_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Match:
    """The group a message belongs to, and the group's template as it is now.

    ``changed`` is True when this message created the group or widened its template.
    """

    group_id: int
    template: str
    changed: bool


class _Cluster:
    """One group: its template positions and which of them are still constant words."""

    __slots__ = ("bucket", "group_id", "last", "nconst", "size", "tokens", "words")

    def __init__(self, group_id: int, bucket: _Bucket, tokens: list[str], words: _Words):
        self.group_id = group_id
        self.bucket = bucket
        self.tokens = tokens
        self.words = words
        self.nconst = _count_words(words)
        self.size = 0
        self.last = Match(group_id, " ".join(tokens), False)

    def template(self) -> str:
        return self.last.template


class _Bucket:
    """The clusters of one key and one position count, indexed by (position, constant word)."""

    __slots__ = ("index", "key", "members", "no_constants")

    def __init__(self, key: str) -> None:
        self.key = key
        self.index: dict[tuple[int, str], set[int]] = {}
        self.members: set[int] = set()
        self.no_constants: set[int] = set()

    def insert(self, cluster: _Cluster) -> None:
        self.members.add(cluster.group_id)
        if cluster.nconst == 0:
            self.no_constants.add(cluster.group_id)
        for pos, word in enumerate(cluster.words):
            if word is not None:
                self.index.setdefault((pos, word), set()).add(cluster.group_id)

    def remove(self, cluster: _Cluster) -> None:
        self.members.discard(cluster.group_id)
        self.no_constants.discard(cluster.group_id)
        for pos, word in enumerate(cluster.words):
            if word is not None:
                self.unindex(pos, word, cluster.group_id)

    def unindex(self, pos: int, token: str, group_id: int) -> None:
        ids = self.index.get((pos, token))
        if ids is not None:
            ids.discard(group_id)
            if not ids:
                del self.index[(pos, token)]

    def shared_at_ends(self, words: _Words, shift: int) -> dict[int, int]:
        """Like :meth:`shared`, aligning the message at this bucket's start and at its end.

        ``shift`` is this bucket's length minus the message's. A word found at both
        alignments counts twice: this is an upper bound that spares most exact alignments.
        """
        counts: dict[int, int] = {}
        get = self.index.get
        for pos, word in enumerate(words):
            if word is not None:
                for gid in get((pos, word), ()):
                    counts[gid] = counts.get(gid, 0) + 1
                for gid in get((pos + shift, word), ()):
                    counts[gid] = counts.get(gid, 0) + 1
        return counts

    def shared(self, words: _Words) -> dict[int, int]:
        """Per cluster of this bucket, how many words it shares with the message in place."""
        counts: dict[int, int] = {}
        get = self.index.get
        for pos, word in enumerate(words):
            if word is not None:
                for gid in get((pos, word), ()):
                    counts[gid] = counts.get(gid, 0) + 1
        return counts


class TemplateMiner:
    """Groups messages into templates online, in bounded memory.

    :param max_clusters: groups kept at most; beyond it the least recently matched is evicted
        (a message of an evicted group later starts a new group with a new id).
    :param cache_size: entries of each of the two text caches (raw and masked message -> group);
        a full cache is emptied and refilled, which bounds it without per-hit bookkeeping.

    Memory is ``O(max_clusters * MAX_TOKENS)`` for the clusters and their index, plus
    ``2 * cache_size`` cached texts of at most ``MAX_CHARS`` characters, plus a redirect table of
    at most ``max_clusters`` merged ids.
    """

    def __init__(self, max_clusters: int = 10_000, cache_size: int = 65_536) -> None:
        if max_clusters < 1:
            raise ValueError(f"max_clusters must be at least 1, not {max_clusters}")
        self.max_clusters = max_clusters
        self.cache_size = cache_size
        self._clusters: OrderedDict[int, _Cluster] = OrderedDict()
        self._buckets: dict[tuple[str, int], _Bucket] = {}
        self._raw: _Cache = {}
        self._masked: _Cache = {}
        self._redirect: dict[int, int] = {}
        self._lengths: dict[str, set[int]] = {}
        self._next_id = 1

    def __len__(self) -> int:
        """The number of groups currently kept."""
        return len(self._clusters)

    # -- public API ------------------------------------------------------------------------

    def add(self, message: str, key: str = "") -> Match:
        """Learn ``message`` (of partition ``key``) and return its group."""
        raw_key = (key, message)
        cluster = self._cached(self._raw, raw_key)
        if cluster is not None:
            return self._hit(cluster)
        text, truncated = _prepare(message)
        masked_key = (key, text)
        cluster = self._cached(self._masked, masked_key)
        if cluster is None:
            tokens, words = _positions(text, truncated)
            match = self._learn(key, tokens, words)
            cluster = self._clusters[match.group_id]
        else:
            match = self._hit(cluster)
        self._remember(self._masked, masked_key, cluster.group_id)
        if not truncated:
            self._remember(self._raw, raw_key, cluster.group_id)
        return match

    def match(self, message: str, key: str = "") -> Match | None:
        """The group ``message`` would join, without learning; None when it would start one."""
        cluster = self._cached(self._raw, (key, message))
        if cluster is None:
            text, truncated = _prepare(message)
            cluster = self._cached(self._masked, (key, text))
            if cluster is None:
                tokens, words = _positions(text, truncated)
                bucket = self._buckets.get((key, len(tokens)))
                cluster = None if bucket is None else self._best(bucket, words)
        return None if cluster is None else cluster.last

    def resolve(self, group_id: int) -> int:
        """The id a group is known by now: itself, or the group it was merged into."""
        seen = 0
        while group_id in self._redirect and seen < 64:
            group_id = self._redirect[group_id]
            seen += 1
        return group_id

    def template(self, group_id: int) -> str | None:
        """The current template of a group (after :meth:`resolve`); None once evicted."""
        cluster = self._clusters.get(self.resolve(group_id))
        return None if cluster is None else cluster.template()

    def groups(self) -> list[tuple[int, int, str]]:
        """``(group_id, size, template)`` of every kept group, largest first."""
        rows = [(c.group_id, c.size, c.template()) for c in self._clusters.values()]
        return sorted(rows, key=lambda r: (-r[1], r[0]))

    # -- internals -------------------------------------------------------------------------

    def _cached(self, cache: _Cache, text_key: tuple[str, str]) -> _Cluster | None:
        gid = cache.get(text_key)
        if gid is None:
            return None
        cluster = self._clusters.get(gid)
        if cluster is None:
            cluster = self._clusters.get(self.resolve(gid))
        return cluster

    def _remember(self, cache: _Cache, text_key: tuple[str, str], gid: int) -> None:
        if len(cache) >= self.cache_size:
            cache.clear()
        cache[text_key] = gid

    def _hit(self, cluster: _Cluster) -> Match:
        cluster.size += 1
        self._clusters.move_to_end(cluster.group_id)
        return cluster.last

    def _bucket(self, key: str, length: int) -> _Bucket:
        bucket = self._buckets.get((key, length))
        if bucket is None:
            bucket = self._buckets[(key, length)] = _Bucket(key)
            self._lengths.setdefault(key, set()).add(length)
        return bucket

    def _learn(self, key: str, tokens: list[str], words: _Words) -> Match:
        bucket = self._bucket(key, len(tokens))
        cluster = self._best(bucket, words)
        if cluster is not None:
            changed = self._absorb(cluster, tokens, words)
        else:
            stretch = self._stretch(key, words)
            if stretch is None:
                return self._create(bucket, tokens, words)
            cluster, prefix, suffix = stretch
            self._absorb_stretched(cluster, tokens, words, prefix, suffix)
            changed = True
        if changed:
            cluster = self._merge_similar(cluster)
        cluster.size += 1
        self._clusters.move_to_end(cluster.group_id)
        return Match(cluster.group_id, cluster.template(), True) if changed else cluster.last

    def _best(self, bucket: _Bucket, words: _Words) -> _Cluster | None:
        """The most similar cluster of ``bucket`` above SIMILARITY (ties: the oldest)."""
        nconst = _count_words(words)
        if nconst == 0:
            gids = sorted(bucket.no_constants)
            return self._clusters[gids[0]] if gids else None
        best: _Cluster | None = None
        best_sim = SIMILARITY
        for gid, shared in bucket.shared(words).items():
            cluster = self._clusters[gid]
            sim = shared / max(nconst, cluster.nconst)
            if sim > best_sim or (sim == best_sim and best is not None and gid < best.group_id):
                best, best_sim = cluster, sim
        return best

    def _create(self, bucket: _Bucket, tokens: list[str], words: _Words) -> Match:
        gid = self._next_id
        self._next_id += 1
        cluster = _Cluster(gid, bucket, tokens, words)
        cluster.size = 1
        self._clusters[gid] = cluster
        bucket.insert(cluster)
        while len(self._clusters) > self.max_clusters:
            self._evict(next(iter(self._clusters.values())))
        return Match(gid, cluster.template(), True)

    def _evict(self, cluster: _Cluster) -> None:
        del self._clusters[cluster.group_id]
        cluster.bucket.remove(cluster)

    def _absorb(self, cluster: _Cluster, tokens: list[str], words: _Words) -> bool:
        """Widen ``cluster``'s template to cover a member; True when the template changed."""
        changed = False
        bucket = cluster.bucket
        for pos, token in enumerate(tokens):
            current = cluster.tokens[pos]
            if current == token:
                continue
            word = cluster.words[pos]
            if word is not None and word != words[pos]:
                cluster.words[pos] = None
                cluster.nconst -= 1
                bucket.unindex(pos, word, cluster.group_id)
                if cluster.nconst == 0:
                    bucket.no_constants.add(cluster.group_id)
            wider = widen(current, token)
            if wider != current:
                cluster.tokens[pos] = wider
                changed = True
        if changed:
            cluster.last = Match(cluster.group_id, " ".join(cluster.tokens), False)
        return changed

    def _stretch(self, key: str, words: _Words) -> tuple[_Cluster, int, int] | None:
        """The most similar cluster of the same key but another length, aligned at both ends.

        A value may span a different number of tokens from one message to the next (a reason
        of one or three words, a host name printed or empty). Such a message agrees with its
        format's template on a prefix and a suffix, and the part in between is one variable
        position of the shorter side. Returns ``(cluster, prefix, suffix)`` or None.
        """
        nconst = _count_words(words)
        if nconst == 0:
            return None
        n = len(words)
        best: tuple[_Cluster, int, int] | None = None
        best_sim = SIMILARITY
        for length in sorted(self._lengths.get(key, ())):
            bucket = self._buckets[(key, length)]
            if length == n or abs(length - n) > MAX_STRETCH or not bucket.members:
                continue
            for gid, upper in bucket.shared_at_ends(words, length - n).items():
                cluster = self._clusters[gid]
                denom = max(nconst, cluster.nconst)
                if upper / denom <= best_sim:
                    continue
                aligned = align_ends(cluster.words, words)
                if aligned is None:
                    continue
                sim = aligned[2] / denom
                if sim > best_sim or (sim == best_sim and best and gid < best[0].group_id):
                    best, best_sim = (cluster, aligned[0], aligned[1]), sim
        return best

    def _absorb_stretched(
        self, cluster: _Cluster, tokens: list[str], words: _Words, prefix: int, suffix: int
    ) -> None:
        """Widen ``cluster`` to a member of another length; it moves to its new length's bucket."""
        new_tokens, new_words = stretch_template(
            cluster.tokens, cluster.words, tokens, words, prefix, suffix
        )
        cluster.bucket.remove(cluster)
        cluster.tokens, cluster.words = new_tokens, new_words
        cluster.nconst = _count_words(new_words)
        cluster.bucket = self._bucket(cluster.bucket.key, len(new_tokens))
        cluster.bucket.insert(cluster)
        cluster.last = Match(cluster.group_id, " ".join(new_tokens), False)

    def _merge_similar(self, cluster: _Cluster) -> _Cluster:
        """Merge the bucket's clusters that now differ from ``cluster`` only where it varies.

        Returns the surviving cluster (the oldest of those merged).
        """
        while True:
            other = self._mergeable(cluster)
            if other is None:
                return cluster
            keep, gone = (cluster, other) if cluster.group_id < other.group_id else (other, cluster)
            self._evict(gone)
            self._absorb(keep, gone.tokens, gone.words)
            keep.size += gone.size
            self._redirect_id(gone.group_id, keep.group_id)
            cluster = keep

    def _mergeable(self, cluster: _Cluster) -> _Cluster | None:
        """A cluster of the same bucket that agrees with ``cluster`` on all shared constants."""
        for gid, shared in cluster.bucket.shared(cluster.words).items():
            if gid == cluster.group_id:
                continue
            other = self._clusters[gid]
            if shared / max(cluster.nconst, other.nconst) <= SIMILARITY:
                continue
            if all(
                a is None or b is None or a == b
                for a, b in zip(cluster.words, other.words, strict=True)
            ):
                return other
        return None

    def _redirect_id(self, old: int, new: int) -> None:
        if len(self._redirect) >= self.max_clusters:
            del self._redirect[next(iter(self._redirect))]
        self._redirect[old] = new


def _prepare(message: str) -> tuple[str, bool]:
    """The masked text the miner looks at, and whether the message was longer than that."""
    if len(message) > MAX_CHARS:
        return mask(message[:MAX_CHARS]), True
    return mask(message), False


def _positions(text: str, truncated: bool) -> tuple[list[str], _Words]:
    tokens, words = tokenize(text)
    if truncated and tokens:
        tokens[-1] = WILD
        words[-1] = None
    return tokens, words


def _count_words(words: _Words) -> int:
    return len(words) - words.count(None)
