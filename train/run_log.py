"""What a training run leaves for people: metrics.jsonl, TensorBoard scalars and images, PNG sample grids.

Only rank 0 logs. Sample grids show, per row: Ia | Ip with points | Iwrp | Igen | Igt (points of a
pair in the same colour), the same grids go to TensorBoard.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eopose.dataset.contact_sheet import draw_points, grid, save_png
from eopose.dataset.splits import SPLITS, split_of_model

GRID_LABELS = ("Ia + Pa", "Ip + Pp", "Iwrp", "Igen", "Igt")


def write_run_files(run_dir: Path, config: dict, datasets, data_dirs, split_fractions, counts: dict) -> None:
    """config.json (the run's configuration) and split.json (data folders, split fractions, `counts` such as the
    number of training samples, and the model ids of every split) of a run folder."""
    run_dir = Path(run_dir)
    (run_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    models = {split: set() for split in SPLITS}
    for data in datasets:
        for pair in data.column("model_id"):
            for model_id in pair:
                models[split_of_model(str(model_id), split_fractions)].add(str(model_id))
    split = {"data": [str(d) for d in ([data_dirs] if isinstance(data_dirs, (str, Path)) else data_dirs)],
             "fractions": list(split_fractions), **counts,
             "models": {name: sorted(ids) for name, ids in models.items()}}
    (run_dir / "split.json").write_text(json.dumps(split, indent=1) + "\n")


class RunLog:
    def __init__(self, run_dir: Path, enabled: bool):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self._writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.run_dir / "tensorboard"))

    def truncate_after(self, global_step: int) -> None:
        """Drop metric lines beyond a checkpoint (left by a run killed after it), before resuming."""
        if not self.enabled or not self.metrics_path.is_file():
            return
        kept = [line for line in self.metrics_path.read_text().splitlines()
                if line.strip() and json.loads(line)["global_step"] <= global_step]
        self.metrics_path.write_text("".join(line + "\n" for line in kept))

    def note(self, message: str) -> None:
        """A line for the console and for run.log."""
        if self.enabled:
            print(message, flush=True)
            with open(self.run_dir / "run.log", "a") as handle:
                handle.write(message + "\n")

    def scalars(self, stage: str, step: int, global_step: int, terms: dict) -> None:
        if not self.enabled:
            return
        values = {name: float(value) for name, value in terms.items()}
        with open(self.metrics_path, "a") as handle:
            handle.write(json.dumps({"stage": stage, "step": step, "global_step": global_step, **values}) + "\n")
        for name, value in values.items():
            self._writer.add_scalar(f"{stage}/{name}", value, global_step)

    def images(self, stage: str, step: int, global_step: int, batch: dict, outputs, rows: int = 4) -> Path | None:
        """A sample grid of `outputs` (an eopose.model.EOPoseOutput) on `batch`."""
        if not self.enabled:
            return None
        sheet_rows = []
        for i in range(min(rows, len(batch["appearance"]))):
            valid = batch["valid"][i]
            generated = (outputs.output if outputs.output is not None else outputs.composed)[i]
            sheet_rows.append([draw_points(batch["appearance"][i], batch["points_a"][i], valid),
                               draw_points(batch["pose"][i], batch["points_p"][i], valid),
                               outputs.composed[i].float(), generated.float(), batch["target"][i]])
        sheet = grid(sheet_rows, labels=GRID_LABELS)
        path = save_png(sheet, self.run_dir / "samples" / f"{stage}-{step:06d}.png")
        self._writer.add_image(f"{stage}/samples", np.asarray(sheet), global_step, dataformats="HWC")
        return path

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
