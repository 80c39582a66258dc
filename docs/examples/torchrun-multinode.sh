#!/bin/bash
# Multi-node commands with torchrun's c10d rendezvous (https://pytorch.org/docs/stable/elastic/run.html).
# Run the same line on every node; HEAD is any host all nodes reach, 29500 a free port on it.
set -euo pipefail
HEAD=${HEAD:?set HEAD to the rendezvous host}
NODES=${NODES:-2}
GPUS=${GPUS:-8}

# DINO keypoints, one process per GPU on all nodes: --shard-index auto reads RANK / WORLD_SIZE and each
# process uses the GPU of its LOCAL_RANK.
torchrun --nnodes "$NODES" --nproc-per-node "$GPUS" --rdzv-backend c10d --rdzv-endpoint "$HEAD:29500" \
    --rdzv-id keypoints-vases --no-python \
    build-keypoint-cache data/vases --method dino --weights dino_deitsmall8_pretrain.pth --shard-index auto

# Training with DDP over the same nodes (train-eopose; see README "train-eopose").
torchrun --nnodes "$NODES" --nproc-per-node "$GPUS" --rdzv-backend c10d --rdzv-endpoint "$HEAD:29500" \
    --rdzv-id train-vases -m eopose.train.cli --data data/vases --config paper --out runs/paper
