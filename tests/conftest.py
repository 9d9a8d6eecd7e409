"""Settings of the whole test suite: no test may reach a model hub."""

import os

# set before transformers / huggingface_hub are imported, for this process and its children
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
