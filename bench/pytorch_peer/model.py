"""FROSTER's model written well in PyTorch: CLIP (OpenAI key layout) whose student vision tower uses Open-VCLIP's
temporal attention (keys/values of the previous, next and own frame, zero blocks at the clip ends, not masked),
a frozen CLIP teacher, residual projectors, and the FROSTER loss. Attention goes through SDPA; everything else is
plain modules, so that eager mode and torch.compile see the same graph. Formulas: ../shared/golden/README.md."""
import math

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, width, temporal_frames=0):
        super().__init__()
        self.heads = max(1, width // 64)
        self.attn = nn.MultiheadAttention(width, self.heads)  # weights only: OpenAI's key layout
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, 4 * width))
        self.mlp.add_module("c_proj", nn.Linear(4 * width, width))
        self.ln_2 = nn.LayerNorm(width)
        self.frames = temporal_frames  # > 0: Open-VCLIP temporal attention over clips of this many frames

    def attention(self, x, causal):
        # x: [N, L, W] batch first
        n, l, w = x.shape
        h, d = self.heads, w // self.heads
        qkv = F.linear(x, self.attn.in_proj_weight, self.attn.in_proj_bias)
        q, k, v = qkv.view(n, l, 3, h, d).permute(2, 0, 3, 1, 4)  # each [N, h, L, d]
        if self.frames:
            k, v = self.temporal(k), self.temporal(v)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return F.linear(o.transpose(1, 2).reshape(n, l, w), self.attn.out_proj.weight, self.attn.out_proj.bias)

    def temporal(self, t):
        """[N, h, L, d] -> [N, h, 3L, d]: [next frame, previous frame, own frame], zeros past the clip ends."""
        n, h, l, d = t.shape
        clips = t.view(n // self.frames, self.frames, h, l, d)
        zero = torch.zeros_like(clips[:, :1])
        nxt = torch.cat([clips[:, 1:], zero], 1)
        prev = torch.cat([zero, clips[:, :-1]], 1)
        return torch.cat([nxt, prev, clips], 3).view(n, h, 3 * l, d)

    def forward(self, x, causal=False):
        x = x + self.attention(self.ln_1(x), causal)
        y = self.mlp.c_fc(self.ln_2(x))
        return x + self.mlp.c_proj(y * torch.sigmoid(1.702 * y))  # QuickGELU


class Transformer(nn.Module):
    def __init__(self, width, layers, temporal_frames=0):
        super().__init__()
        self.resblocks = nn.ModuleList([Block(width, temporal_frames) for _ in range(layers)])

    def forward(self, x, causal=False):
        for b in self.resblocks:
            x = b(x, causal)
        return x


class Visual(nn.Module):
    def __init__(self, res, patch, width, layers, dim, temporal_frames=0):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros((res // patch) ** 2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, layers, temporal_frames)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, dim))

    def forward(self, frames):  # [N, 3, R, R] -> [N, D]
        x = self.conv1(frames).flatten(2).transpose(1, 2)
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = self.ln_pre(torch.cat([cls, x], 1) + self.positional_embedding.to(x.dtype))
        return self.ln_post(self.transformer(x)[:, 0]) @ self.proj


class Clip(nn.Module):
    def __init__(self, cfg, temporal_frames=0):
        super().__init__()
        self.visual = Visual(cfg["res"], cfg["patch"], cfg["width"], cfg["layers"], cfg["dim"], temporal_frames)
        self.token_embedding = nn.Embedding(cfg["vocab"], cfg["text_width"])
        self.positional_embedding = nn.Parameter(torch.zeros(cfg["context"], cfg["text_width"]))
        self.transformer = Transformer(cfg["text_width"], cfg["text_layers"])
        self.ln_final = nn.LayerNorm(cfg["text_width"])
        self.text_projection = nn.Parameter(torch.zeros(cfg["text_width"], cfg["dim"]))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_text(self, ids, n=None):
        """[P, 77] -> [P, D], running only the first `n` positions (default: up to the longest EOT; the mask is
        causal, so the result is exact). A fixed `n` keeps shapes static for torch.compile."""
        eot = ids.argmax(-1)
        n = int(eot.max()) + 1 if n is None else n
        x = self.token_embedding(ids[:, :n]) + self.positional_embedding[:n]
        x = self.ln_final(self.transformer(x, causal=True))
        return x[torch.arange(x.shape[0], device=x.device), eot] @ self.text_projection


def config_of(state):
    """Architecture from OpenAI-layout weights."""
    width = state["visual.conv1.weight"].shape[0]
    layers = len({k.split(".")[3] for k in state if k.startswith("visual.transformer.resblocks.")})
    text_layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
    patch = state["visual.conv1.weight"].shape[-1]
    grid = int(round(math.sqrt(state["visual.positional_embedding"].shape[0] - 1)))
    return dict(res=grid * patch, patch=patch, width=width, layers=layers, dim=state["visual.proj"].shape[1],
                vocab=state["token_embedding.weight"].shape[0], text_width=state["positional_embedding"].shape[1],
                context=state["positional_embedding"].shape[0], text_layers=text_layers)


def projector(dim):
    return nn.Sequential(nn.Linear(dim, dim, bias=False), nn.GELU(), nn.Linear(dim, dim, bias=False))


def classifier(per_template):  # [K, C, D] -> [C, D]
    return F.normalize(F.normalize(per_template, dim=-1).mean(0), dim=-1)


class Froster(nn.Module):
    """Student (temporal CLIP + projectors) and frozen teacher; `loss` is one training forward."""

    def __init__(self, state, frames, alpha=0.1, ratio=2.0):
        super().__init__()
        cfg = config_of(state)
        self.student = Clip(cfg, temporal_frames=frames)
        self.student.load_state_dict(state)
        self.teacher = Clip(cfg).requires_grad_(False).eval()
        self.teacher.load_state_dict(state)
        self.projector_v, self.projector_t = projector(cfg["dim"]), projector(cfg["dim"])
        self.frames, self.alpha, self.ratio = frames, alpha, ratio
        self._teacher_text = {}

    def teacher_text(self, key, ids):
        """The teacher's raw text features of a prompt set, computed once per template (it is frozen)."""
        if key not in self._teacher_text:
            with torch.no_grad():
                self._teacher_text[key] = self.teacher.encode_text(ids)
        return self._teacher_text[key]

    def loss(self, video, labels, ids, teacher_text, text_len=None):
        """video [B, T, 3, R, R], labels [B], ids [K, C, 77] (template, bare), teacher_text [K, C, D] (the
        teacher's raw text features of the same prompts, from `teacher_text`)."""
        b, t = video.shape[:2]
        frames = video.flatten(0, 1)
        k, c = ids.shape[:2]
        img = F.normalize(self.student.visual(frames), dim=-1)
        cls = classifier(self.student.encode_text(ids.flatten(0, 1), text_len).view(k, c, -1))
        logits = (self.student.logit_scale.exp() * img @ cls.t()).view(b, t, c).mean(1)
        loss_ce = F.cross_entropy(logits.float(), labels)
        with torch.no_grad():
            t_img = F.normalize(self.teacher.visual(frames), dim=-1)
            t_cls = classifier(teacher_text)
        img_p = img + self.alpha * self.projector_v(img)
        cls_p = cls + self.alpha * self.projector_t(cls)
        d_img = 1 - F.cosine_similarity(img_p.float(), t_img.float(), dim=-1, eps=1e-8).mean()
        d_txt = 1 - F.cosine_similarity(cls_p.float(), t_cls.float(), dim=-1, eps=1e-8).mean()
        total = loss_ce + self.ratio * (d_img + d_txt)
        return total, dict(loss_ce=loss_ce, distill_loss_image=d_img, distill_loss_text=d_txt, loss_total=total)

    def trainable(self):
        return [p for p in self.parameters() if p.requires_grad]
