"""qualedge.train: paper 1 (IQA-guided multi-GT SR training, LoRA IQA fine-tuning) and paper 2 (AdaQual-Diff).

Reads data through qualedge.data and writes checkpoints (safetensors + resolved config JSON); never imports
qualedge.runtime.
"""
