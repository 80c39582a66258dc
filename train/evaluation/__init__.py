"""eopose.train.evaluation: `eval-eopose`: per-image metrics, the baselines EOPose is compared with, the evaluation
loop over held-out samples and its reports (HTML, Markdown, CSV, JSON, example grid)."""
