"""``keepwarm``: simulate, ingest, and (in later stages) train, score, serve.

User errors end with exit code 1 and a reason on stderr, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer.exceptions import TyperException

from config import get_settings
from store.bundle import KeepwarmError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="keepwarm: keep campus candidates warm between offer and first day.",
)


def _parse_seasons(value: str) -> list[str]:
    seasons = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        year = part.split("-")[0]
        if not (year.isdigit() and len(year) == 4):
            raise KeepwarmError(f"--seasons: {part!r} is not a year like 2024 or 2024-autumn")
        seasons.append(f"{year}-autumn")
    if not seasons:
        raise KeepwarmError("--seasons: give at least one year, e.g. 2023,2024")
    return seasons


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write bundles into.")],
    seasons: Annotated[str, typer.Option(help="Comma-separated autumn seasons.")] = "2023,2024",
    candidates: Annotated[int, typer.Option(min=1, help="Candidates per season.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    truth: Annotated[bool, typer.Option(help="Write truth.csv (Monte-Carlo roll-outs).")] = True,
) -> None:
    """Write simulated season bundles that follow the data contract (truth.csv included)."""
    from simulator import simulate_seasons, write_bundle

    for result in simulate_seasons(_parse_seasons(seasons), candidates, seed, truth=truth):
        folder = write_bundle(result, out_dir / result.season)
        typer.echo(f"{result.season}: {result.summary()} -> {folder}")


@app.command()
def ingest(
    bundle_dir: Annotated[Path, typer.Argument(help="A season bundle folder.")],
) -> None:
    """Load a season bundle into the store, all of it or nothing."""
    from store.db import open_store
    from store.ingest import ingest_bundle

    settings = get_settings()
    engine = open_store(settings)
    report = ingest_bundle(engine, bundle_dir, max_problems=settings.max_reported_problems)
    typer.echo(report.summary())


@app.command()
def demo(
    candidates: Annotated[int, typer.Option(min=20, help="Candidates per season.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Simulate two seasons, ingest them, and summarise the store."""
    from simulator import simulate_seasons, write_bundle
    from store.db import open_store
    from store.ingest import count_rows, ingest_bundle

    settings = get_settings()
    home = settings.ensure_home()
    engine = open_store(settings)
    typer.echo(f"keepwarm demo: state in {home}, store {engine.url.render_as_string()}")
    for result in simulate_seasons(["2023-autumn", "2024-autumn"], candidates, seed):
        folder = write_bundle(result, home / "bundles" / result.season)
        typer.echo(f"simulated {result.season}: {result.summary()}")
        typer.echo("  " + ingest_bundle(engine, folder).summary())
    counts = count_rows(engine)
    typer.echo("store now holds: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _log_crash() -> Path | None:
    """Keep the traceback of an unexpected error in a file, not on the user's screen."""
    import traceback

    try:
        folder = get_settings().ensure_home() / "logs"
        folder.mkdir(exist_ok=True)
        path = folder / "crash.log"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(traceback.format_exc() + "\n")
        return path
    except OSError:
        return None


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=False)
    except KeepwarmError as exc:
        print(f"keepwarm: {exc}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("keepwarm: aborted", file=sys.stderr)
        sys.exit(1)
    except TyperException as exc:  # usage errors: bad option, bad value
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"keepwarm: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        where = _log_crash()
        hint = f"; details in {where}" if where else ""
        print(f"keepwarm: internal error ({type(exc).__name__}){hint}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
