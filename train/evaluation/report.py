"""eval-eopose's report folder: report.md, metrics.csv, metrics.json, report.html and examples.png.

The first table has the layout of the EOPose paper's Table 1 (rows: categories and "All together"; per
method SSIM, LPIPS, FID); a second one holds the further metrics. A metric that could not be computed shows
"unavailable" in its cells and "unavailable: <reason>" in the status list, the CSV's status column and the
JSON; it never shows a number. The HTML file is self-contained (the example grid is embedded) and the grid
is also written beside it as examples.png.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import shutil
from pathlib import Path

import torch
import torch.nn.functional as F

from eopose.dataset.contact_sheet import draw_points, grid, save_png

from .baselines import METHOD_LABELS, METHODS
from .evaluate import METRICS, EvalResult

PAPER_METRICS = ("ssim", "lpips", "fid")
FURTHER_METRICS = ("masked_ssim", "masked_l1", "iou", "psnr", "epe", "blank")
DIGITS = {"ssim": 4, "masked_ssim": 4, "lpips": 4, "fid": 2, "psnr": 2, "masked_l1": 4, "iou": 4, "epe": 3,
          "blank": 0}
# EOPose paper, Table 1 (SSIM, LPIPS, FID on its Objaverse renders; a yardstick, not comparable to other data)
PAPER_TABLE1 = {
    "Vases": {"TPS": (0.68, 0.28, 42.81), "EOPose": (0.89, 0.04, 11.82)},
    "Briefcases": {"TPS": (0.61, 0.35, 213.52), "EOPose": (0.86, 0.06, 39.68)},
    "File Cabinets": {"TPS": (0.60, 0.37, 190.93), "EOPose": (0.82, 0.07, 52.86)},
    "Shoes": {"TPS": (0.55, 0.27, 58.84), "EOPose": (0.77, 0.08, 24.89)},
    "All together": {"TPS": (0.34, 0.58, 75.22), "EOPose": (0.44, 0.33, 18.22)},
}
GRID_COLUMNS = ("Ia + Pa", "Ip + Pp", "TPS", "Warp only", "EOPose", "Ground truth")
MIN_DISPLAY = 128  # small test renders are upscaled (nearest) so points and labels stay readable


def _text(cell: dict, metric: str) -> str:
    if cell["value"] is not None:
        return f"{cell['value']:.{DIGITS[metric]}f}"
    return cell["status"].split(":")[0]  # "unavailable" or "n/a"; the reason is in the status list


def _header(metric: str) -> str:
    label, better, _ = METRICS[metric]
    return f"{label} {'↑' if better == 'up' else '↓'}"


def metric_statuses(result: EvalResult) -> dict:
    return {name: result.statuses.get(name, "ok") for name in METRICS}


def table_rows(result: EvalResult) -> tuple[list, list, list, list]:
    """(paper header, paper rows, further header, further rows) as lists of strings."""
    paper_header = ["Experiments"] + [f"{METHOD_LABELS[m]} {_header(k)}" for m in METHODS for k in PAPER_METRICS]
    paper_rows = [[group] + [_text(methods[m][k], k) for m in METHODS for k in PAPER_METRICS]
                  for group, methods in result.table.items()]
    further_header = ["Experiments", "Method"] + [_header(k) for k in FURTHER_METRICS]
    further_rows = [[group, METHOD_LABELS[m]] + [_text(methods[m][k], k) for k in FURTHER_METRICS]
                    for group, methods in result.table.items() for m in METHODS]
    return paper_header, paper_rows, further_header, further_rows


def _markdown_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _summary(result: EvalResult) -> list[str]:
    info = result.info
    return [f"checkpoint `{info['checkpoint']}` (config {info['config']}, {info['resolution']} px, keypoints "
            f"`{info['keypoint_method']}`)",
            f"data {', '.join(f'`{d}`' for d in info['data'])}, split `{info['split']}`: {info['samples']} of "
            f"{info['samples_in_split']} samples ({', '.join(f'{g} {n}' for g, n in info['group_sizes'].items())})",
            f"{info['seconds']} s on {info['device']} ({info['samples_per_second']} samples/s)"]


def write_markdown(result: EvalResult, path: Path) -> None:
    paper_header, paper_rows, further_header, further_rows = table_rows(result)
    reference = [[group] + [f"{v:.2f}" for label in ("TPS", "EOPose") for v in values[label]]
                 for group, values in PAPER_TABLE1.items()]
    parts = ["# eval-eopose report", "", *[f"- {line}" for line in _summary(result)], "",
             "## Table 1 layout", "", _markdown_table(paper_header, paper_rows), "",
             "## Further metrics", "", _markdown_table(further_header, further_rows), "",
             "## Metric status", "", *[f"- {METRICS[n][0]}: {s}" for n, s in metric_statuses(result).items()], "",
             "## Definitions", "", *[f"- {label}: {definition}" for label, _, definition in METRICS.values()], "",
             "## The paper's Table 1 (Objaverse renders; for orientation only)", "",
             _markdown_table(["Experiments"] + [f"{m} {_header(k)}" for m in ("TPS", "EOPose") for k in PAPER_METRICS],
                             reference), "",
             "## Examples", "", f"Columns: {' | '.join(GRID_COLUMNS)}.", "", "![examples](examples.png)", ""]
    path.write_text("\n".join(parts))


def write_csv(result: EvalResult, path: Path) -> None:
    """Long format: one line per (group, method, metric); `value` is empty unless `status` is ok."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["group", "method", "metric", "value", "status", "samples"])
        for group, methods in result.table.items():
            for method in METHODS:
                for metric, cell in methods[method].items():
                    writer.writerow([group, method, metric, "" if cell["value"] is None else repr(cell["value"]),
                                     cell["status"], result.info["group_sizes"][group]])


def write_json(result: EvalResult, path: Path) -> None:
    payload = {"info": result.info,
               "metrics": {name: {"label": label, "better": better, "definition": definition,
                                  "status": metric_statuses(result)[name]}
                           for name, (label, better, definition) in METRICS.items()},
               "methods": {m: METHOD_LABELS[m] for m in METHODS},
               "table": result.table,
               "paper_table1": {group: {m: dict(zip(PAPER_METRICS, v)) for m, v in values.items()}
                                for group, values in PAPER_TABLE1.items()}}
    path.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")


def _display(image: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(image[None], scale_factor=scale, mode="nearest")[0] if scale > 1 else image


def display_scale(image: torch.Tensor) -> int:
    """Integer upscaling that brings an image [3, H, W] to at least MIN_DISPLAY px on its longer side."""
    return max(1, -(-MIN_DISPLAY // max(image.shape[-2:])))


def with_points(image: torch.Tensor, points, valid, scale: int):
    """`image` upscaled by `scale` with its keypoints drawn (dataset.contact_sheet.draw_points)."""
    return draw_points(_display(image, scale), points * scale, valid)


def example_grid(examples: list):
    """Rows Ia (with Pa) | Ip (with Pp) | TPS | warp only | EOPose | ground truth (dataset.contact_sheet)."""
    scale = display_scale(examples[0]["target"])
    rows = [[with_points(ex["appearance"], ex["points_a"], ex["valid"], scale),
             with_points(ex["pose"], ex["points_p"], ex["valid"], scale),
             *[_display(ex[m], scale) for m in ("tps", "warp_only", "eopose", "target")]] for ex in examples]
    return grid(rows, labels=GRID_COLUMNS)


def _html_table(header: list, rows: list) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html(result: EvalResult, path: Path, grid_png: bytes | None, attachments=()) -> None:
    paper_header, paper_rows, further_header, further_rows = table_rows(result)
    statuses = "".join(f"<li><b>{html.escape(METRICS[n][0])}</b>: {html.escape(s)}</li>"
                       for n, s in metric_statuses(result).items())
    definitions = "".join(f"<li><b>{html.escape(label)}</b>: {html.escape(d)}</li>" for label, _, d in METRICS.values())
    figure = ("<p>No examples.</p>" if grid_png is None else
              f'<figure><img alt="examples" src="data:image/png;base64,{base64.b64encode(grid_png).decode()}">'
              f"<figcaption>{html.escape(' | '.join(GRID_COLUMNS))}</figcaption></figure>")
    summary = "".join(f"<li>{html.escape(line)}</li>" for line in _summary(result))
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>eval-eopose report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #999;padding:3px 8px;text-align:right}}td:first-child{{text-align:left}}
img{{max-width:100%;image-rendering:pixelated}}</style></head>
<body><h1>eval-eopose report</h1><ul>{summary}</ul>
<h2>Table 1 layout</h2>{_html_table(paper_header, paper_rows)}
<h2>Further metrics</h2>{_html_table(further_header, further_rows)}
<h2>Metric status</h2><ul>{statuses}</ul>
<h2>Definitions</h2><ul>{definitions}</ul>
<h2>Examples</h2>{figure}{_attachments_html(attachments)}
</body></html>
"""
    path.write_text(document)


def _attachments_html(names) -> str:
    if not names:
        return ""
    items = "".join(f'<figure><img alt="{html.escape(n)}" src="{html.escape(n)}"><figcaption>{html.escape(n)}'
                    f"</figcaption></figure>" for n in names)
    return f"<h2>Attached images</h2>{items}"


def write_report(result: EvalResult, out_dir, attachments=()) -> dict:
    """Write every report file into `out_dir`, with copies of the `attachments` (image files, e.g. `repose`
    outputs) shown and linked at the end of report.html; returns {kind: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for attachment in map(Path, attachments):
        shutil.copyfile(attachment, out_dir / attachment.name)
        names.append(attachment.name)
    paths = {"markdown": out_dir / "report.md", "csv": out_dir / "metrics.csv", "json": out_dir / "metrics.json",
             "html": out_dir / "report.html"}
    grid_png = None
    if result.examples:
        sheet = example_grid(result.examples)
        paths["examples"] = save_png(sheet, out_dir / "examples.png")
        buffer = io.BytesIO()
        sheet.save(buffer, format="PNG")
        grid_png = buffer.getvalue()
    write_markdown(result, paths["markdown"])
    write_csv(result, paths["csv"])
    write_json(result, paths["json"])
    write_html(result, paths["html"], grid_png, names)
    return paths
