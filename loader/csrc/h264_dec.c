/* The H.264 codec's reader: one libavcodec decoder per thread, fed one closed GOP at a time.
 * Kept in C because libavcodec's structs are only stable through its headers. */
#include "av.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fh_dec {
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *frame;
} fh_dec;

void fh_dec_free(fh_dec *d) {
    if (!d) return;
    A->free_context(&d->ctx);
    A->packet_free(&d->pkt);
    A->frame_free(&d->frame);
    free(d);
}

fh_dec *fh_dec_new(char *err, size_t n) {
    if (!fh_av_get(err, n)) return NULL;
    const AVCodec *codec = A->find_decoder(AV_CODEC_ID_H264);
    if (!codec) {
        fh_av_fail(err, n, "this libavcodec has no H.264 decoder", 0);
        return NULL;
    }
    fh_dec *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->ctx = A->alloc_context3(codec);
    d->pkt = A->packet_alloc();
    d->frame = A->frame_alloc();
    if (!d->ctx || !d->pkt || !d->frame) {
        fh_av_fail(err, n, "out of memory", 0);
        fh_dec_free(d);
        return NULL;
    }
    /* One thread: the loader's workers are the parallelism, and frames come out as soon as they are sent. */
    d->ctx->thread_count = 1;
    d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    /* A damaged frame is an error, not a concealed picture. */
    d->ctx->err_recognition = AV_EF_EXPLODE | AV_EF_CRCCHECK | AV_EF_BITSTREAM;
    int r = A->open2(d->ctx, codec, NULL);
    if (r < 0) {
        fh_av_fail(err, n, "opening the H.264 decoder", r);
        fh_dec_free(d);
        return NULL;
    }
    return d;
}

/* Copies the decoded picture, cropped to w x h, into a tight I420 buffer. */
static int copy_out(const AVFrame *f, uint8_t *out, int w, int h, char *err, size_t n) {
    if (f->format != AV_PIX_FMT_YUV420P || f->width < w || f->height < h || f->width > w + 1 || f->height > h + 1) {
        char what[160];
        snprintf(what, sizeof what, "decoded a %dx%d picture of format %d, expected %dx%d I420", f->width, f->height,
                 f->format, w, h);
        return fh_av_fail(err, n, what, 0);
    }
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    for (int y = 0; y < h; y++) memcpy(out + (size_t)y * w, f->data[0] + (size_t)y * f->linesize[0], w);
    uint8_t *u = out + (size_t)w * h, *v = u + (size_t)cw * ch;
    for (int y = 0; y < ch; y++) {
        memcpy(u + (size_t)y * cw, f->data[1] + (size_t)y * f->linesize[1], cw);
        memcpy(v + (size_t)y * cw, f->data[2] + (size_t)y * f->linesize[2], cw);
    }
    return 0;
}

/* Receives every picture ready; the `want`-th of the GOP (0-based, counted in `got`) is copied out. */
static int drain(fh_dec *d, int *got, int want, uint8_t *out, int w, int h, char *err, size_t n) {
    for (;;) {
        int r = A->receive_frame(d->ctx, d->frame);
        if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return 0;
        if (r < 0) return fh_av_fail(err, n, "decoding", r);
        int bad = *got == want ? copy_out(d->frame, out, w, h, err, n) : 0;
        (*got)++;
        A->frame_unref(d->frame);
        if (bad) return bad;
    }
}

/* Forgets the stream: the next packet must be a key frame. */
void fh_dec_reset(fh_dec *d) { A->flush_buffers(d->ctx); }

/* Decodes the next packet of a stream and writes its picture, w x h tight I420, to `out`: the stream has no
 * B-frames and the decoder runs in low-delay mode, so each packet gives its picture at once. */
int fh_dec_next(fh_dec *d, const uint8_t *data, size_t size, uint8_t *out, int w, int h, char *err, size_t n) {
    if (size > INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE) return fh_av_fail(err, n, "packet too large", 0);
    int r = A->new_packet(d->pkt, (int)size);
    if (r < 0) return fh_av_fail(err, n, "allocating a packet", r);
    memcpy(d->pkt->data, data, size);
    r = A->send_packet(d->ctx, d->pkt);
    A->packet_unref(d->pkt);
    if (r < 0) return fh_av_fail(err, n, "decoding", r);
    int got = 0;
    if (drain(d, &got, 0, out, w, h, err, n)) return -1;
    return got == 1 ? 0 : fh_av_fail(err, n, got ? "one packet gave several pictures" : "the decoder held the picture back", 0);
}

/* Decodes `count` packets (a key frame and the frames after it in its GOP) and writes the last picture, w x h
 * tight I420, to `out`. Returns 0, or -1 with the reason in `err`. */
int fh_dec_gop(fh_dec *d, const uint8_t *const *data, const size_t *sizes, int count, uint8_t *out, int w, int h,
               char *err, size_t n) {
    A->flush_buffers(d->ctx);
    int got = 0, want = count - 1;
    for (int i = 0; i < count; i++) {
        if (sizes[i] > INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE) return fh_av_fail(err, n, "packet too large", 0);
        /* av_new_packet pads and zeroes the tail that libavcodec's bitstream reader may overread. */
        int r = A->new_packet(d->pkt, (int)sizes[i]);
        if (r < 0) return fh_av_fail(err, n, "allocating a packet", r);
        memcpy(d->pkt->data, data[i], sizes[i]);
        r = A->send_packet(d->ctx, d->pkt);
        A->packet_unref(d->pkt);
        if (r < 0) return fh_av_fail(err, n, "decoding", r);
        if (drain(d, &got, want, out, w, h, err, n)) return -1;
    }
    if (got <= want) {
        int r = A->send_packet(d->ctx, NULL);
        if (r < 0) return fh_av_fail(err, n, "flushing the decoder", r);
        if (drain(d, &got, want, out, w, h, err, n)) return -1;
    }
    if (got <= want) {
        char what[96];
        snprintf(what, sizeof what, "%d packets gave %d pictures", count, got);
        return fh_av_fail(err, n, what, 0);
    }
    return 0;
}
