#!/usr/bin/env python
"""Derive the compact test-fixture bundle ``tests/fixtures/`` from the full golden fixture set.

The full set (about 80 MB) lives outside the repository; CI places it beside the checkout as
``../shared/fixtures``. A bare clone has only this bundle, which keeps, for every model x test set x
preset, enough of the reference outputs for at least one parity test (see ``tests/fixtures/README.md``
and ``docs/testing.md``):

* ``data/``: a few of the synthetic samples (media files byte for byte, annotation files filtered);
* ``models/<model>_<set>.npz``: the golden run's raw maps, GT masks, names and sha256 records for all
  24 samples (the float16 224 maps are dropped: tests regenerate them from the raw maps);
* ``models/inputs_<set>.npz``: per-row sha256 of the stored model inputs instead of the inputs;
* ``metrics/``: the ``raw_mode`` targets of all 12 model x set pairs, and the 10-seed official run
  (captured maps, full-precision metrics, text file, max/min dumps) for one test set per model;
* ``native/<model>.npz``: ids, raw maps, one 224 map and per-row input sha256 of the native runs;
* ``native_metrics/``: every model repository's own evaluator on the native maps and on its 35
  adversarial cases, whole (json and npz, byte for byte; the folder's README is not copied);
* ``manifests/``, ``native/manifests/``: the weight manifests without their prose.

Every written file gets an entry in ``tests/fixtures/MANIFEST.json``: its sha256, the source files it
was derived from (with their sha256, checked against the source's ``SHA256SUMS``) and what was kept.
Output is deterministic: re-running the script on the same source rewrites identical bytes.

    python scripts/make_test_fixtures.py                    # source ../shared/fixtures
    python scripts/make_test_fixtures.py --source DIR       # another copy of the full set
    python scripts/make_test_fixtures.py --check            # verify the committed bundle
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "tests" / "fixtures"
DEFAULT_SOURCE = ROOT.parent / "shared" / "fixtures"
KEEP_FILES = ("MANIFEST.json", "README.md")  # not derived: the record itself and its prose
#: Sub-folders not derived from the full set: written by their own reference harness (``aclssl/``:
#: scripts/reference/aclssl.py), each with a SHA256SUMS of its files. They are checked against that
#: list instead of MANIFEST.json, and carried unchanged across a regeneration of the bundle.
SEPARATE_DIRS = ("aclssl",)

MODELS = ("ezvsl", "slavc", "fnac", "lvs", "sslalign", "ssltie")
SETS = ("vggss", "is3")
PIPELINES = ("p10s", "pfnac3s", "plvs", "pssltie")
NATIVE_MODELS = ("ezvsl", "slavc", "lvs", "sslalign", "ssltie", "sacl")
MANIFEST_NAMES = ("ezvsl", "slavc", "fnac", "lvs", "sslalign", "ssltie", "ogl_resnet18")
NATIVE_EVALUATORS = ("ezvsl", "fnac", "slavc", "lvs", "sslalign", "ssltie", "sacl")
NATIVE_MANIFEST_NAMES = ("ezvsl", "slavc", "lvs", "sslalign", "ssltie", "sacl_frame", "sacl_sound")

#: VGG-SS samples kept (annotation order 0, 3, 5, 7; all four are among the native runs' first 8):
#: a resized 320x240 frame, the 224x224 frame whose id holds '_' and '-', the 240x320 frame with two
#: boxes, and the 256x256 frame whose box reaches x = 1.04 (clipped by the reader).
VGGSS_IDS = ("jjBmz09YZP-_000135", "ab_cdEFGh-1_000270", "5wJvhuxL3of_000287", "1ok669VsUVo_000117")
#: IS3 scenes kept (2 scenes = 4 annotations); the second one holds the shared class 'human'.
IS3_SCENES = ("accordion_baby_10437", "male_ukulele_12135")
#: the native runs' 224 map is kept for this id only (a resized frame; the raw maps are kept for all 8)
NATIVE_MAP224_ID = "jjBmz09YZP-_000135"
#: the 10-seed official run is kept for one test set per model (both upsampling families, both sets)
CAPTURED = ("ezvsl_vggss", "slavc_is3", "fnac_vggss", "lvs_is3", "sslalign_vggss", "ssltie_is3")

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sha256_file(path: Path) -> str:
    return sha256_bytes(path.read_bytes())


def row_sha256(a: np.ndarray) -> np.ndarray:
    """sha256 of each row's contiguous bytes (how the tests fingerprint one sample's array)."""
    return np.array([sha256_bytes(np.ascontiguousarray(r).tobytes()) for r in a])


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``np.load``-readable archive with fixed entry dates (np.savez stamps the current time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            z.writestr(info, member.getvalue(), compresslevel=9)
    return buf.getvalue()


def json_bytes(obj) -> bytes:
    return (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode()


class Builder:
    def __init__(self, source: Path, out: Path):
        self.source, self.out = source, out
        self.sums = self._read_sums()
        self.entries: dict[str, dict] = {}
        self.digests: dict[str, str] = {}

    def _read_sums(self) -> dict[str, str]:
        path = self.source / "SHA256SUMS"
        if not path.is_file():
            sys.exit(f"error: {path} not found; pass --source DIR (the full fixtures folder)")
        sums = {}
        for line in path.read_text().splitlines():
            if line.strip():
                digest, name = line.split(maxsplit=1)
                sums[name.strip()] = digest
        return sums

    def src(self, rel: str) -> Path:
        """A source file, checked against SHA256SUMS where listed (a modified source is an error);
        ``native/`` is not listed there, so its files are recorded by their own digest."""
        path = self.source / rel
        digest = sha256_file(path)
        if rel in self.sums and self.sums[rel] != digest:
            sys.exit(f"error: {path} does not match SHA256SUMS ({self.sums[rel]} != {digest})")
        self.digests[rel] = digest
        return path

    def write(self, rel: str, data: bytes, sources: list[str], kept: str) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.entries[rel] = {"sha256": sha256_bytes(data), "bytes": len(data), "kept": kept,
                             "sources": {s: self.digests[s] for s in sources}}

    def copy(self, rel: str, kept: str = "the whole file, byte for byte") -> None:
        self.write(rel, self.src(rel).read_bytes(), [rel], kept)

    # -- data ---------------------------------------------------------------------------------------
    def data(self) -> None:
        ann = "data/vggss/vggss_annotations.json"
        records = json.loads(self.src(ann).read_text())
        kept = [r for r in records if r["file"] in VGGSS_IDS]
        assert [r["file"] for r in kept] == sorted(VGGSS_IDS, key=[r["file"] for r in records].index)
        what = f"the records of {', '.join(VGGSS_IDS)} (annotation order)"
        self.write(ann, json_bytes(kept), [ann], what)
        alt = "data/vggss/vggss.json"
        assert json.loads(self.src(alt).read_text()) == records
        self.write(alt, json_bytes(kept), [alt], what)
        cf = "data/vggss/vggss_class_files_dict.json"
        classes = {c: [f for f in files if f in VGGSS_IDS] for c, files in json.loads(self.src(cf).read_text()).items()}
        self.write(cf, json_bytes({c: f for c, f in classes.items() if f}), [cf], "the kept files, empty classes dropped")
        for i in VGGSS_IDS:
            self.copy(f"data/vggss/frames/{i}.jpg")
            self.copy(f"data/vggss/audio/{i}.wav")

        ann = "data/is3/IS3_annotation.json"
        records = json.loads(self.src(ann).read_text())
        keep = [r for r in records if Path(r["image"]).stem.rsplit("_", 1)[0] in IS3_SCENES]
        names = [Path(r["image"]).stem for r in keep]
        assert len(keep) == 2 * len(IS3_SCENES)
        what = f"the annotations of scenes {', '.join(IS3_SCENES)} ({len(keep)} samples, annotation order)"
        self.write(ann, json_bytes(keep), [ann], what)
        box = "data/is3/synthetic3240_bbox.json"
        boxes = [r for r in json.loads(self.src(box).read_text()) if Path(r["image"]).stem in names]
        assert len(boxes) == len(names)
        self.write(box, json_bytes(boxes), [box], what)
        cf = "data/is3/IS3_class_files_dict.json"
        classes = {c: [f for f in files if f in names] for c, files in json.loads(self.src(cf).read_text()).items()}
        self.write(cf, json_bytes({c: f for c, f in classes.items() if f}), [cf], "the kept names, empty classes dropped")
        for r in keep:
            if not (self.out / "data/is3" / r["image"]).exists():
                self.copy(f"data/is3/{r['image']}")
            self.copy(f"data/is3/{r['audio']}")

    # -- juanola2025 goldens ------------------------------------------------------------------------
    def goldens(self) -> None:
        for m in MODELS:
            for s in SETS:
                rel = f"models/{m}_{s}.npz"
                with np.load(self.src(rel)) as z:
                    arrays = {k: z[k] for k in z.files if not k.startswith("up_")}
                for v in ("pos", "silence", "noise", "offscreen", "ogl"):
                    assert sha256_bytes(np.ascontiguousarray(arrays[f"raw_{v}"]).tobytes()) == str(arrays[f"sha256_raw_{v}"])
                self.write(rel, npz_bytes(arrays), [rel],
                           "every member of all 24 samples except the float16 up_* maps (regenerated from raw_* "
                           "by the recorded op; sha256_up_*_float32 pins them)")
        for s in SETS:
            rel = f"models/inputs_{s}.npz"
            with np.load(self.src(rel)) as z:
                full = {k: z[k] for k in z.files}
            assert sha256_bytes(np.ascontiguousarray(full["image"]).tobytes()) == str(full["sha256_image"])
            arrays = {"sha256_rows_image": row_sha256(full["image"])}
            for p in PIPELINES:
                for part in ("pos", "silence"):
                    spec = full[f"spec_{part}_{p}"]
                    assert sha256_bytes(np.ascontiguousarray(spec).tobytes()) == str(full[f"sha256_spec_{part}_{p}"])
                    arrays[f"sha256_rows_spec_{part}_{p}"] = row_sha256(spec)
                for k in ("names", "offscreen_files", "noise_seeds", "offscreen_index"):
                    if f"{k}_{p}" in full:
                        arrays[f"{k}_{p}"] = full[f"{k}_{p}"]
            arrays["meta"] = full["meta"]
            self.write(rel, npz_bytes(arrays), [rel],
                       "per-row sha256 of image and spec_{pos,silence}_<pipeline> (24 rows; the arrays were "
                       "verified against their stored sha256 first), names/offscreen/noise-seed/index members, meta")

    # -- metrics ------------------------------------------------------------------------------------
    def metrics(self) -> None:
        for m in MODELS:
            for s in SETS:
                rel = f"metrics/metrics_{m}_{s}.json"
                ref = json.loads(self.src(rel).read_text())
                assert len(ref["raw_mode"]) == 164
                self.write(rel, json_bytes({"raw_mode": ref["raw_mode"]}), [rel], "the raw_mode block (164 values)")
        for case in CAPTURED:
            d = f"metrics/{case}"
            for name in ("captured_raw.npz", "metrics_full.json", f"{case}.txt"):
                self.copy(f"{d}/{name}")
            for stat in ("max", "min"):
                for v in ("pos", "silence", "noise", "offscreen"):
                    self.copy(f"{d}/max_min/{case}_{stat}_{v}.npy")

    # -- native -------------------------------------------------------------------------------------
    def native(self) -> None:
        for m in NATIVE_MODELS:
            rel = f"native/{m}.npz"
            with np.load(self.src(rel)) as z:
                full = {k: z[k] for k in z.files}
            ids = [str(i) for i in full["ids"]]
            row = ids.index(NATIVE_MAP224_ID)
            arrays = {"ids": full["ids"], "raw_map": full["raw_map"],
                      "map224_ids": full["ids"][row:row + 1], "map224": full["map224"][row:row + 1],
                      "sha256_rows_image_input": row_sha256(full["image_input"]),
                      "sha256_rows_audio_input": row_sha256(full["audio_input"])}
            if "waveform48k" in full:
                arrays["sha256_rows_waveform48k"] = row_sha256(full["waveform48k"])
            if "dataset_names" in full:
                arrays["dataset_names"] = full["dataset_names"]
            arrays["meta"] = full["meta"]
            self.write(rel, npz_bytes(arrays), [rel],
                       f"ids, raw_map (all 8), map224 of {NATIVE_MAP224_ID} only, per-row sha256 of the inputs, meta")

    # -- native evaluators -------------------------------------------------------------------------
    def native_metrics(self) -> None:
        for m in NATIVE_MODELS:
            self.copy(f"native_metrics/{m}_vggss.json")
        for e in NATIVE_EVALUATORS:
            for ext in ("json", "npz"):
                self.copy(f"native_metrics/adversarial_{e}.{ext}")

    # -- manifests ----------------------------------------------------------------------------------
    def manifests(self) -> None:
        compact = {}
        for folder, names in (("manifests", MANIFEST_NAMES), ("native/manifests", NATIVE_MANIFEST_NAMES)):
            for n in names:
                rel = f"{folder}/{n}.json"
                full = json.loads(self.src(rel).read_text())
                tensors = [{k: t[k] for k in ("key", "shape", "dtype", "sha256")} for t in full["tensors"]]
                out = {"name": full["name"], "rule_version": full["rule_version"], "checkpoint": full["checkpoint"]}
                same = folder != "manifests" and compact.get(n)
                if same and same == tensors:  # the native manifest lists the very same tensors
                    out["tensors_same_as"] = f"manifests/{n}.json"
                    what = "name, rule_version, checkpoint; its tensor list equals that of manifests/" + n + ".json"
                else:
                    out["tensors"] = tensors
                    what = "name, rule_version, checkpoint, and key/shape/dtype/sha256 of every tensor"
                    compact[n] = tensors
                self.write(rel, json_bytes(out), [rel], what)

    def run(self) -> None:
        self.data()
        self.goldens()
        self.metrics()
        self.native()
        self.native_metrics()
        self.manifests()
        unlisted = sorted(s for s in self.digests if s not in self.sums)
        record = {"about": "tests/fixtures: a compact subset of the golden fixtures, written by "
                           "scripts/make_test_fixtures.py; see README.md",
                  "sources_not_in_SHA256SUMS": unlisted,
                  "files": dict(sorted(self.entries.items()))}
        (self.out / "MANIFEST.json").write_bytes(json_bytes(record))


def check_separate(folder: Path, name: str) -> list[str]:
    """Problems with a separately written sub-folder: every file listed in its SHA256SUMS, with that
    sha256 (its README.md and the list itself excepted)."""
    if not folder.is_dir():
        return []
    sums = folder / "SHA256SUMS"
    if not sums.is_file():
        return [f"missing: {name}/SHA256SUMS"]
    listed = dict(reversed(line.split("  ", 1)) for line in sums.read_text().splitlines() if line.strip())
    problems = [f"sha256 differs from {name}/SHA256SUMS: {name}/{rel}" for rel, digest in listed.items()
                if not (folder / rel).is_file() or sha256_file(folder / rel) != digest]
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    problems += [f"not in {name}/SHA256SUMS: {name}/{rel}"
                 for rel in sorted(present - set(listed) - {"SHA256SUMS", "README.md"})]
    return problems


def check(bundle: Path, source: Path | None) -> list[str]:
    """Problems with the committed bundle (empty = fine): sha256 of every file against MANIFEST.json,
    no unlisted file, and, when a full set is at ``source``, the recorded source sha256 against it."""
    problems = []
    record = json.loads((bundle / "MANIFEST.json").read_text())["files"]
    for rel, entry in record.items():
        path = bundle / rel
        if not path.is_file():
            problems.append(f"missing: {rel}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"sha256 differs from MANIFEST.json: {rel}")
    present = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()
               and p.relative_to(bundle).parts[0] not in SEPARATE_DIRS}
    for sub in SEPARATE_DIRS:
        problems += check_separate(bundle / sub, sub)
    problems += [f"not in MANIFEST.json: {rel}" for rel in sorted(present - set(record) - set(KEEP_FILES))]
    if source is not None and (source / "SHA256SUMS").is_file():
        for rel, entry in record.items():
            for s, digest in entry["sources"].items():
                if not (source / s).is_file() or sha256_file(source / s) != digest:
                    problems.append(f"stale: {rel} was derived from a {s} that is not the one in {source}")
    return problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the full fixtures folder (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=BUNDLE, help="where to write the bundle (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="verify the bundle at --out against its MANIFEST.json "
                    "(and against --source when that folder exists); writes nothing")
    a = ap.parse_args(argv)
    if a.check:
        problems = check(a.out, a.source if a.source.is_dir() else None)
        for p in problems:
            print(p)
        print(f"{a.out}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        return 1 if problems else 0
    # build beside the target, then swap, so a failed run leaves the old bundle intact
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=a.out.parent) as tmp:
        Builder(a.source.resolve(), Path(tmp)).run()
        for keep in KEEP_FILES[1:]:
            if (a.out / keep).is_file():
                shutil.copy2(a.out / keep, Path(tmp) / keep)
        for sub in SEPARATE_DIRS:
            if (a.out / sub).is_dir():
                shutil.copytree(a.out / sub, Path(tmp) / sub)
        if a.out.exists():
            shutil.rmtree(a.out)
        shutil.copytree(tmp, a.out)
    total = sum(p.stat().st_size for p in a.out.rglob("*") if p.is_file())
    print(f"wrote {a.out} ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
