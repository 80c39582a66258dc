"""Upload a verified release folder to a Hugging Face dataset repository (`huggingface_hub.HfApi`).

Upload API: https://huggingface.co/docs/huggingface_hub/guides/upload (`create_repo`, `upload_folder`).
Only releases built under the `redistributable` licence policy may be pushed.
"""
from __future__ import annotations

import json
from pathlib import Path

from .release import RELEASE_JSON


class HubError(RuntimeError):
    """The upload cannot happen (one line: not logged in, unreachable, or a release that may not be public)."""


def push_to_hub(release_dir, repo_id: str, private: bool = False) -> str:
    """Create (if needed) the dataset repo `repo_id` and upload the release; returns the repo URL."""
    release_dir = Path(release_dir)
    summary = json.loads((release_dir / RELEASE_JSON).read_text())
    if summary.get("license_policy") != "redistributable":
        raise HubError(f"{release_dir / RELEASE_JSON}: built with --license-policy {summary.get('license_policy')}, "
                       f"which keeps objects that may not be redistributed; rebuild with the default policy to push")
    try:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, HTTPError, LocalTokenNotFoundError
    except ImportError:
        raise HubError("huggingface_hub is not installed; pip install 'eopose[publish]'") from None
    api = HfApi()
    try:
        api.whoami()
        url = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(folder_path=str(release_dir), repo_id=repo_id, repo_type="dataset",
                          commit_message=f"publish-dataset: {summary.get('name', release_dir.name)}")
    except LocalTokenNotFoundError:
        raise HubError("not logged in to Hugging Face; run `hf auth login` or set HF_TOKEN") from None
    except HfHubHTTPError as error:
        raise HubError(f"Hugging Face refused the upload to {repo_id}: {str(error).splitlines()[0]}") from None
    except (HTTPError, OSError) as error:  # HTTPError: the hub client's transport errors (DNS, connect, timeout)
        raise HubError(f"Hugging Face Hub unreachable ({type(error).__name__}: {error}); push later with "
                       f"`publish-dataset --verify {release_dir} --push-to-hub {repo_id}`") from None
    return str(url)
