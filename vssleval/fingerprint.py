"""A run's fingerprint: what it read, so a resumed run, a rescore and a report can tell whether two
runs (or a run and today's files) have the same inputs (docs/report.md, "Fingerprint of the inputs").

A leaf module (standard library only): the engine computes a fingerprint from the samples and files
it reads, the store compares fingerprints before ``--resume`` adds a shard, and the report decides
"same data" from the fingerprints that ``metrics.json`` carries, without importing the engine.

Two records:

* the **summary** (``config["fingerprint"]`` in ``store/config.json``, ``metrics.json["fingerprint"]``):
  one ``digest`` over every part, a ``data`` digest over the parts that describe the dataset as
  read (:data:`DATA_PARTS`), and per part its own ``digest`` plus a few words for people (file
  names, counts). Every digest is a SHA-256 of file *contents* and parsed records, never of paths
  outside the data folder or of modification times, so a data folder that is moved, copied or
  touched keeps its fingerprint;
* the **detail** (``store/inputs.json``, :data:`INPUTS_FILE`): every file the run read, with its
  size, modification time and SHA-256, and every record's ground-truth digest, so a refusal can
  name the first record or file that changed.

The data parts describe every record the dataset reader loaded, not only the ones evaluated: a
``--limit`` run reads the same data as a full one (the report marks it partial), and the reader
checks every record's media anyway, so hashing them costs one more pass over bytes already read.

What is hashed (measured in docs/report.md): every metadata file the dataset reader read (the
annotation file, box file, class-files dict, test list, negatives CSV), every loaded record's image
and audio file and every offscreen clip drawn, in full; the checkpoint's and the OGL weights'
files in full; the resolved preset block and the protocol name.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from vssleval.errors import VsslevalError

#: Version of the summary and detail layout.
FORMAT = 1
#: The detail file, in the heatmap store beside ``config.json``.
INPUTS_FILE = "inputs.json"
#: The parts that say which data a run read: equal parts mean the same metadata files, records,
#: ground truth and media bytes (of every record the reader loaded).
DATA_PARTS = ("metadata", "records", "media")
#: Every part, in the order a change is reported (the weights first: they change every map).
PARTS = ("checkpoint", "ogl", "preset", "protocol", "metadata", "records", "media", "evaluated", "offscreen")
#: Hex digits of a digest shown in messages.
SHORT = 12


# -- hashing ---------------------------------------------------------------------------------------
def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (read in ``chunk``-byte blocks; a symlink is read through)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    """``{"bytes", "mtime_ns", "sha256"}`` of a regular file (a symlink: of its target).

    A FIFO, a device or a folder is refused before it is opened (reading a FIFO would block), and
    an unreadable file is a :class:`VsslevalError` naming it.
    """
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise VsslevalError(f"{path} is not a regular file; a run reads only regular files (or symlinks "
                                "to them): replace it with the file it should be")
        digest = file_sha256(path)
    except OSError as exc:
        raise VsslevalError(f"cannot read {path} to fingerprint the run's inputs ({exc.strerror or exc}); "
                            "make it readable or fix the dataset") from exc
    return {"bytes": int(st.st_size), "mtime_ns": int(st.st_mtime_ns), "sha256": digest}


def digest_of(value: Any) -> str:
    """Hex SHA-256 of a JSON value in canonical form (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)  # ASCII: any str encodes
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    """Arrays (anything with ``tolist``) and tuples as JSON lists; None stays None."""
    if value is None:
        return None
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def record_digest(sample: Any) -> str:
    """SHA-256 of one record as the reader parsed it: id, boxes (224-px grid and frame
    fractions), ground-truth rule, annotators, label, group, negative flag and visible labels.

    ``sample`` is a :class:`vssleval.data.types.Sample` (read by attribute, so this module imports
    no data code). Everything the stored ground truth is made of is in it, so an edited box in any
    annotation format (JSON, IS3 box file, Flickr XML) changes it.
    """
    fields = [str(sample.id), _plain(getattr(sample, "boxes", None)), _plain(getattr(sample, "boxes_frac", None)),
              str(getattr(sample, "gt_rule", "")), _plain(getattr(sample, "annotators", None)),
              str(getattr(sample, "label", "")), str(getattr(sample, "group", "")),
              bool(getattr(sample, "is_negative", False)), _plain(list(getattr(sample, "visible_labels", ()) or ()))]
    return digest_of(fields)


def relative(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """``path`` relative to the data folder ``root`` (POSIX form), so a moved folder keeps its
    fingerprint; a path outside it (an absolute metadata path in the dataset options) stays whole."""
    try:
        return Path(path).relative_to(Path(root)).as_posix()
    except ValueError:
        return str(path)


# -- computing -------------------------------------------------------------------------------------
def compute(root: str | os.PathLike, metadata: Iterable[tuple[str | os.PathLike, str]], samples: Sequence[Any],
            evaluated: Sequence[str], offscreen: Iterable[str | os.PathLike] = (), *,
            checkpoint: tuple[str | None, Any] = (None, None), ogl: tuple[str | None, Any] = (None, None),
            preset: tuple[str, Any] = ("", None), protocol: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``(summary, detail)`` fingerprint of a run's inputs.

    Args:
        root: the data folder (paths are recorded relative to it).
        metadata: ``(path, role)`` of every metadata file the dataset reader read, e.g.
            ``(D/vggss.json, "VGG-SS annotation file")``.
        samples: every record the reader loaded, in dataset order (their ``image_path``,
            ``audio_path`` and ground truth, :func:`record_digest`).
        evaluated: the ids of the records the run evaluates (``--limit``: the first K), in order.
        offscreen: the offscreen clips the run's draws use (duplicates are fine).
        checkpoint: ``(file, sha256)`` of the model's weights: a sha256 string, a ``{file: sha256}``
            dict for a multi-file checkpoint, or for in-memory weights the state-dict digest; ``(None,
            None)`` for a model without weights.
        ogl: ``(file, sha256)`` of the OGL prior's weights, or ``(None, None)`` when not used.
        preset: ``(name, resolved preset block)``. protocol: the protocol name.

    Every file is hashed in full (:func:`file_identity`); the summary holds no path outside the
    data folder and no modification time.
    """
    files: dict[str, dict[str, Any]] = {}

    def ident(path: str | os.PathLike) -> tuple[str, str]:
        rel = relative(path, root)
        if rel not in files:
            files[rel] = file_identity(path)
        return rel, files[rel]["sha256"]

    roles = {}
    for path, role in metadata:
        rel, _ = ident(path)
        roles.setdefault(rel, str(role))
    records, media = [], []
    for s in samples:
        image, image_sha = ident(s.image_path)
        audio, audio_sha = ident(s.audio_path)
        rd = record_digest(s)
        records.append([str(s.id), rd, image, audio])
        media.append([str(s.id), image, image_sha, audio, audio_sha])
    clips = sorted({ident(p)[0] for p in offscreen})
    evaluated = [str(i) for i in evaluated]
    media_files = {m for row in media for m in (row[1], row[3])}
    parts = {
        "metadata": {"digest": digest_of({r: files[r]["sha256"] for r in roles}),
                     "files": {r: files[r]["sha256"] for r in sorted(roles)}},
        "records": {"digest": digest_of([[r[0], r[1]] for r in records]), "count": len(records)},
        "media": {"digest": digest_of(media), "files": len(media_files),
                  "bytes": sum(files[r]["bytes"] for r in media_files)},
        "evaluated": {"digest": digest_of(evaluated), "count": len(evaluated)},
        "offscreen": {"digest": digest_of([[c, files[c]["sha256"]] for c in clips]), "files": len(clips)},
        "checkpoint": {"digest": digest_of(checkpoint[1]), "file": checkpoint[0], "sha256": checkpoint[1]},
        "ogl": {"digest": digest_of(ogl[1]), "file": ogl[0], "sha256": ogl[1]},
        "preset": {"digest": digest_of(preset[1]), "name": preset[0]},
        "protocol": {"digest": digest_of(protocol), "name": protocol},
    }
    summary = {"format": FORMAT, "digest": digest_of({k: p["digest"] for k, p in parts.items()}),
               "data": data_digest(parts), "parts": parts}
    detail = {"format": FORMAT, "root": str(root), "metadata": roles, "records": records, "evaluated": evaluated,
              "offscreen": clips, "files": files}
    return summary, detail


def data_digest(parts: Mapping[str, Any]) -> str:
    """The digest of the data parts of a summary's ``parts`` (:data:`DATA_PARTS`)."""
    return digest_of({k: parts[k]["digest"] for k in DATA_PARTS})


# -- reading ----------------------------------------------------------------------------------------
def is_valid(summary: Any) -> bool:
    """Whether ``summary`` is a fingerprint summary this version reads (format, digests, every part)."""
    if not isinstance(summary, Mapping) or summary.get("format") != FORMAT:
        return False
    parts = summary.get("parts")
    if not isinstance(parts, Mapping) or not isinstance(summary.get("digest"), str):
        return False
    if not all(isinstance(parts.get(k), Mapping) and isinstance(parts[k].get("digest"), str) for k in PARTS):
        return False
    return summary.get("data") == data_digest(parts)


def data_key(summary: Any) -> str | None:
    """The data digest of a fingerprint summary (equal: the same records, ground truth and media),
    or None when ``summary`` is absent or unreadable (a run of an older vssleval)."""
    return str(summary["data"]) if is_valid(summary) else None


def short(value: Any) -> str:
    """A digest or sha256 for a message: its first :data:`SHORT` hex digits and an ellipsis."""
    if isinstance(value, str) and len(value) > SHORT:
        return value[:SHORT] + "…"
    return str(value)


# -- describing a change ----------------------------------------------------------------------------
def describe_change(old: Mapping[str, Any], new: Mapping[str, Any], old_detail: Mapping[str, Any] | None,
                    new_detail: Mapping[str, Any] | None) -> str | None:
    """What changed between two valid summaries, in one clause naming the first changed part (and
    its first record or file, from the details when both are there); None when nothing did."""
    if old.get("digest") == new.get("digest"):
        return None
    root = Path(str((new_detail or {}).get("root") or ""))
    details = old_detail if _detail_ok(old_detail) else None, new_detail if _detail_ok(new_detail) else None
    for part in PARTS:
        a, b = old["parts"][part], new["parts"][part]
        if a.get("digest") != b.get("digest"):
            return _DESCRIBERS[part](a, b, *details, root)
    return (f"the inputs changed since this run started (fingerprint {short(old.get('digest'))} -> "
            f"{short(new.get('digest'))})")


def _detail_ok(detail: Any) -> bool:
    kinds = (("files", Mapping), ("records", list), ("metadata", Mapping), ("evaluated", list), ("offscreen", list))
    return (isinstance(detail, Mapping) and detail.get("format") == FORMAT
            and all(isinstance(detail.get(k), t) for k, t in kinds))


def _weights(what: str):
    def describe(a, b, _old, _new, _root) -> str:
        file = b.get("file") or a.get("file")
        sa, sb = a.get("sha256"), b.get("sha256")
        if isinstance(sa, Mapping) and isinstance(sb, Mapping):  # a multi-file checkpoint: the first file
            name = next((k for k in sorted(set(sa) | set(sb)) if sa.get(k) != sb.get(k)), None)
            if name is not None:
                sa, sb, file = sa.get(name), sb.get(name), f"{file} ({name})" if file else name
        where = f" {file}" if file else ""
        return f"the {what}{where} changed since this run started (sha256 {short(sa)} -> {short(sb)})"
    return describe


def _preset(a, b, _old, _new, _root) -> str:
    return (f"the resolved preset {b.get('name')!r} changed since this run started (its audio, image or map "
            f"block differs: digest {short(a.get('digest'))} -> {short(b.get('digest'))})")


def _protocol(a, b, _old, _new, _root) -> str:
    return f"the protocol changed since this run started ({a.get('name')} -> {b.get('name')})"


def _metadata(a, b, old, new, root) -> str:
    fa, fb = dict(a.get("files") or {}), dict(b.get("files") or {})
    roles = {**dict((old or {}).get("metadata") or {}), **dict((new or {}).get("metadata") or {})}
    role = lambda rel: roles.get(rel, "metadata file")  # noqa: E731
    changed = [r for r in sorted(fa) if r in fb and fa[r] != fb[r]]
    gone, added = [r for r in sorted(fa) if r not in fb], [r for r in sorted(fb) if r not in fa]
    why = [_records_change(old, new)]
    if changed:
        r = changed[0]
        text = f"the {role(r)} {root / r} changed since this run started"
        why.insert(0, f"sha256 {short(fa[r])} -> {short(fb[r])}")
    elif gone and added and role(gone[0]) == role(added[0]):
        text = f"the dataset's {role(added[0])} is now {root / added[0]}, this run read {gone[0]}"
    elif added:
        text = f"the dataset now also reads the {role(added[0])} {root / added[0]}, which this run did not read"
    elif gone:
        text = f"the {role(gone[0])} {gone[0]} that this run read is no longer read"
    else:
        text = "the dataset's metadata files changed since this run started"
    why = [w for w in why if w]
    return text + (f" ({'; '.join(why)})" if why else "")


def _records_change(old, new) -> str | None:
    """``"2 records' annotations differ (boxes, label, ...), first: id X; 1 record no longer read, first: id Y"``
    or None."""
    if old is None or new is None:
        return None
    ra = {r[0]: r[1] for r in old["records"]}
    rb = {r[0]: r[1] for r in new["records"]}
    differ = [i for i in ra if i in rb and ra[i] != rb[i]]
    removed, added = [i for i in ra if i not in rb], [i for i in rb if i not in ra]
    parts = []
    if differ:
        parts.append(f"{_records_of(len(differ))} {'annotation differs' if len(differ) == 1 else 'annotations differ'}"
                     f" (boxes, label, ...), first: id {differ[0]}")
    if removed:
        parts.append(f"{_n(len(removed), 'record')} no longer read, first: id {removed[0]}")
    if added:
        parts.append(f"{_n(len(added), 'record')} added, first: id {added[0]}")
    if not parts and list(ra) != list(rb):
        parts.append("the records are read in another order")
    return "; ".join(parts) or None


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'s' if k != 1 else ''}"


def _records_of(k: int) -> str:
    """``"1 record's"`` / ``"3 records'"``."""
    return f"{k} record's" if k == 1 else f"{k} records'"


def _records(a, b, old, new, _root) -> str:
    change = _records_change(old, new)
    if change:
        return f"the dataset's records changed since this run started: {change}"
    return f"the dataset's records changed since this run started ({a.get('count')} -> {b.get('count')} records)"


def _evaluated(a, b, old, new, _root) -> str:
    if old is not None and new is not None:
        gone = [i for i in old["evaluated"] if i not in set(new["evaluated"])]
        if gone:
            return (f"the records this run evaluates changed since it started ({a.get('count')} -> {b.get('count')}; "
                    f"first no longer evaluated: id {gone[0]})")
    return f"the records this run evaluates changed since it started ({a.get('count')} -> {b.get('count')} records)"


def _media(a, b, old, new, root) -> str:
    if old is not None and new is not None:
        fa, fb = old["files"], new["files"]
        before = {r[0]: r for r in old["records"]}
        changed = []  # (id, role, path, old sha, new sha)
        for rec in new["records"]:
            prev = before.get(rec[0])
            for col, what in ((2, "image"), (3, "audio")):
                rel = rec[col]
                sha_new = fb.get(rel, {}).get("sha256")
                sha_old = fa.get(prev[col], {}).get("sha256") if prev is not None else None
                if prev is not None and (prev[col] != rel or sha_old != sha_new):
                    changed.append((rec[0], what, rel, sha_old, sha_new))
        if changed:
            ids = {c[0] for c in changed}
            sid, what, rel, sa, sb = changed[0]
            return (f"{_records_of(len(ids))} media changed since this run started, first: id {sid} {what} "
                    f"{root / rel} (sha256 {short(sa)} -> {short(sb)})")
        change = _records_change(old, new)
        if change:
            return f"the dataset's records changed since this run started: {change}"
    return (f"the records' media changed since this run started (media digest {short(a.get('digest'))} "
            f"-> {short(b.get('digest'))})")


def _offscreen(a, b, old, new, root) -> str:
    if old is not None and new is not None:
        fa, fb = old["files"], new["files"]
        changed = [c for c in new["offscreen"] if c in fa and fa[c].get("sha256") != fb[c].get("sha256")]
        if changed:
            c = changed[0]
            return (f"{_n(len(changed), 'offscreen clip')} changed since this run started, first: {root / c} "
                    f"(sha256 {short(fa[c].get('sha256'))} -> {short(fb[c].get('sha256'))})")
        if list(old["offscreen"]) != list(new["offscreen"]):
            fresh = [c for c in new["offscreen"] if c not in set(old["offscreen"])]
            first = f", first new: {root / fresh[0]}" if fresh else ""
            return f"the offscreen clips drawn changed since this run started{first}"
    return (f"the offscreen clips changed since this run started (digest {short(a.get('digest'))} -> "
            f"{short(b.get('digest'))})")


_DESCRIBERS = {"checkpoint": _weights("checkpoint"), "ogl": _weights("OGL weights"), "preset": _preset,
               "protocol": _protocol, "metadata": _metadata, "records": _records, "media": _media,
               "evaluated": _evaluated, "offscreen": _offscreen}


# -- same data ---------------------------------------------------------------------------------------
def data_label(summary: Any, data_root: Any) -> str:
    """How a run's data is named in messages: its folder and, with a fingerprint, the data digest."""
    key = data_key(summary)
    return f"{data_root} (data {key[:SHORT]})" if key else f"{data_root} (no fingerprint)"
