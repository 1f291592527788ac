/* The H.264 codec's writer: x264 through libavcodec, closed GOPs of a fixed length, no B-frames, so that any
 * stored frame decodes from its GOP's key frame in stored order. */
#include "av.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fh_enc {
    AVCodecContext *ctx;
    AVFrame *frame;
    AVPacket *pkt;
    int w, h;
    int64_t pts;
} fh_enc;

void fh_enc_free(fh_enc *e) {
    if (!e) return;
    A->free_context(&e->ctx);
    A->frame_free(&e->frame);
    A->packet_free(&e->pkt);
    free(e);
}

/* An encoder of w x h I420 frames (odd sizes are padded by repeating the last column/row; the reader crops).
 * `params` are x264's own options (x264-params). */
fh_enc *fh_enc_new(int w, int h, int gop, double crf, const char *preset, const char *params, char *err,
                   size_t n) {
    if (!fh_av_get(err, n)) return NULL;
    const AVCodec *codec = A->find_encoder_by_name("libx264");
    if (!codec) {
        fh_av_fail(err, n, "this libavcodec was built without libx264 (Debian's libavcodec59 has it)", 0);
        return NULL;
    }
    fh_enc *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->w = w, e->h = h;
    e->ctx = A->alloc_context3(codec);
    e->frame = A->frame_alloc();
    e->pkt = A->packet_alloc();
    if (!e->ctx || !e->frame || !e->pkt) {
        fh_av_fail(err, n, "out of memory", 0);
        fh_enc_free(e);
        return NULL;
    }
    AVCodecContext *c = e->ctx;
    c->width = (w + 1) & ~1;
    c->height = (h + 1) & ~1;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = (AVRational){1, 30};
    c->gop_size = gop;
    c->keyint_min = gop;
    c->max_b_frames = 0;
    /* One thread: builds run videos in parallel, and one thread's output does not depend on scheduling. */
    c->thread_count = 1;
    c->color_range = AVCOL_RANGE_MPEG;
    c->colorspace = AVCOL_SPC_BT470BG;
    int r = A->opt_set(c->priv_data, "preset", preset, 0);
    if (r >= 0) r = A->opt_set_double(c->priv_data, "crf", crf, 0);
    if (r >= 0) r = A->opt_set(c->priv_data, "x264-params", params, 0);
    if (r < 0) {
        fh_av_fail(err, n, "setting x264's options", r);
        fh_enc_free(e);
        return NULL;
    }
    r = A->open2(c, codec, NULL);
    if (r < 0) {
        fh_av_fail(err, n, "opening x264", r);
        fh_enc_free(e);
        return NULL;
    }
    e->frame->format = c->pix_fmt;
    e->frame->width = c->width;
    e->frame->height = c->height;
    r = A->frame_get_buffer(e->frame, 0);
    if (r < 0) {
        fh_av_fail(err, n, "allocating a frame", r);
        fh_enc_free(e);
        return NULL;
    }
    return e;
}

/* Copies a tight plane of w x h into one of ph rows of `stride` bytes, repeating the last column and row into
 * every byte of the padding, so that no byte x264 may read (its SIMD copies read rows past the width) is left as
 * the allocator left it. */
static void put_plane(uint8_t *dst, int stride, const uint8_t *src, int w, int h, int ph) {
    for (int y = 0; y < ph; y++) {
        uint8_t *row = dst + (size_t)y * stride;
        memcpy(row, src + (size_t)(y < h ? y : h - 1) * w, w);
        memset(row + w, row[w - 1], (size_t)(stride - w));
    }
}

/* Sends one tight I420 frame, or NULL to flush the encoder at the end. */
int fh_enc_send(fh_enc *e, const uint8_t *i420, char *err, size_t n) {
    int r;
    if (!i420) {
        r = A->send_frame(e->ctx, NULL);
        return r < 0 ? fh_av_fail(err, n, "flushing x264", r) : 0;
    }
    r = A->frame_make_writable(e->frame);
    if (r < 0) return fh_av_fail(err, n, "reusing a frame", r);
    int w = e->w, h = e->h, cw = (w + 1) / 2, ch = (h + 1) / 2;
    AVFrame *f = e->frame;
    put_plane(f->data[0], f->linesize[0], i420, w, h, f->height);
    put_plane(f->data[1], f->linesize[1], i420 + (size_t)w * h, cw, ch, ch);
    put_plane(f->data[2], f->linesize[2], i420 + (size_t)w * h + (size_t)cw * ch, cw, ch, ch);
    f->pts = e->pts++;
    r = A->send_frame(e->ctx, f);
    return r < 0 ? fh_av_fail(err, n, "encoding", r) : 0;
}

/* The next packet: 0 with its bytes (valid until the next call) and key flag, 1 when x264 needs more frames,
 * 2 at the end, -1 on error. */
int fh_enc_receive(fh_enc *e, const uint8_t **data, size_t *size, int *key, char *err, size_t n) {
    A->packet_unref(e->pkt);
    int r = A->receive_packet(e->ctx, e->pkt);
    if (r == AVERROR(EAGAIN)) return 1;
    if (r == AVERROR_EOF) return 2;
    if (r < 0) return fh_av_fail(err, n, "encoding", r);
    *data = e->pkt->data;
    *size = (size_t)e->pkt->size;
    *key = (e->pkt->flags & AV_PKT_FLAG_KEY) != 0;
    return 0;
}
