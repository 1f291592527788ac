"""froster-loader for PyTorch: stream augmented video clips from FROSTER packs.

The Rust loader decodes, samples (the reference's 8x16 views), augments and batches on its own threads; each batch
reaches Python without a copy, as torch tensors (through DLPack), numpy arrays, or raw buffers. Because the work
happens in those threads, a ``torch.utils.data.DataLoader`` around it should use ``num_workers=0``: more Python
processes would only duplicate the Rust threads.

    from froster_loader import Loader
    loader = Loader("packs/k400", list="train", batch_size=32, seed=0)
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for batch in loader:
            video, label = batch["video"], batch["label"]   # uint8 [B, T, H, W, C], int64 [B]
"""
from ._froster_loader import Buffer, LoaderError, Pack
from ._froster_loader import Loader as _Loader

__all__ = ["Loader", "Pack", "LoaderError", "Buffer", "as_dataset", "CLIP_MEAN", "CLIP_STD"]

#: CLIP's normalisation, as the "float" output applies it.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _dist_defaults(rank, world_size):
    """rank and world size from torch.distributed when it is initialised, else a single process."""
    if rank is not None and world_size is not None:
        return rank, world_size
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return (dist.get_rank() if rank is None else rank,
                    dist.get_world_size() if world_size is None else world_size)
    except ImportError:
        pass
    return (0 if rank is None else rank), (1 if world_size is None else world_size)


def _converter(to):
    if to == "raw":
        return lambda b: b
    if to in ("torch", "auto"):
        try:
            import torch

            return torch.from_dlpack
        except ImportError:
            if to == "torch":
                raise
    try:
        import numpy

        return numpy.asarray
    except ImportError:
        if to == "numpy":
            raise
    return lambda b: b


class Loader:
    """Batches of clips from one list of a pack, as the Rust ``froster_loader::Loader`` makes them.

    Each batch is a dict: ``video`` (uint8 ``[B, T, H, W, C]``, or with ``output="float"`` CLIP-normalised float32
    ``[B, C, T, H, W]`` as the reference feeds the model), ``label`` (int64 ``[B]``), ``index`` (each clip's position
    in the list), ``id`` (each clip's video id); in test mode (``train=False``) also ``view`` and ``crop``.
    Batches are byte-identical for a seed and epoch whatever ``workers`` is. ``rank``/``world_size`` default to
    torch.distributed's when it is initialised (DistributedSampler semantics). ``to`` picks the array type:
    "auto" (torch if importable, else numpy, else raw buffers), "torch", "numpy" or "raw".
    """

    def __init__(self, packs, list="train", batch_size=8, train=True, frames=8, sampling_rate=16, crop=224,
                 seed=0, rank=None, world_size=None, workers=None, output="uint8", drop_last=None, views=3,
                 crops=1, scale=None, strict=False, to="auto"):
        rank, world_size = _dist_defaults(rank, world_size)
        self._inner = _Loader(str(packs), list, batch_size, train, frames, sampling_rate, crop, seed, rank,
                              world_size, workers, output, drop_last, views, crops, scale, strict)
        self._convert = _converter(to)

    def set_epoch(self, epoch):
        """Reshuffle for ``epoch`` (as DistributedSampler.set_epoch)."""
        self._inner.set_epoch(epoch)

    def __len__(self):
        return len(self._inner)

    def __iter__(self):
        for batch in self._inner:
            for key in ("video", "label"):
                batch[key] = self._convert(batch[key])
            yield batch

    def close(self):
        """Stop the loader's threads now (also done when it is garbage-collected)."""
        self._inner.close()


def as_dataset(loader):
    """A ``torch.utils.data.IterableDataset`` over the loader's batches, for code that expects a DataLoader.

    Use it with ``DataLoader(as_dataset(loader), batch_size=None, num_workers=0)``: the batches are made already,
    and the work happens in the loader's own threads.
    """
    import torch.utils.data

    class _Batches(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(loader)

        def __len__(self):
            return len(loader)

    return _Batches()
