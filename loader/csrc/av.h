/* libavcodec and libavutil, opened at first use with dlopen: a binary that never reads or writes an H.264 pack
 * neither needs them installed nor carries their hundred megabytes of codec libraries. Compiled against the
 * headers of the libavcodec-dev that scripts/setup.sh installs; opened by that major version's soname. */
#ifndef FROSTER_AV_H
#define FROSTER_AV_H
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <stddef.h>

typedef struct fh_av {
    const AVCodec *(*find_decoder)(enum AVCodecID);
    const AVCodec *(*find_encoder_by_name)(const char *);
    AVCodecContext *(*alloc_context3)(const AVCodec *);
    void (*free_context)(AVCodecContext **);
    int (*open2)(AVCodecContext *, const AVCodec *, AVDictionary **);
    int (*send_packet)(AVCodecContext *, const AVPacket *);
    int (*receive_frame)(AVCodecContext *, AVFrame *);
    int (*send_frame)(AVCodecContext *, const AVFrame *);
    int (*receive_packet)(AVCodecContext *, AVPacket *);
    void (*flush_buffers)(AVCodecContext *);
    AVPacket *(*packet_alloc)(void);
    void (*packet_free)(AVPacket **);
    void (*packet_unref)(AVPacket *);
    int (*new_packet)(AVPacket *, int);
    AVFrame *(*frame_alloc)(void);
    void (*frame_free)(AVFrame **);
    void (*frame_unref)(AVFrame *);
    int (*frame_get_buffer)(AVFrame *, int);
    int (*frame_make_writable)(AVFrame *);
    int (*strerror)(int, char *, size_t);
    int (*opt_set)(void *, const char *, const char *, int);
    int (*opt_set_double)(void *, const char *, double, int);
} fh_av;

/* The loaded functions: set by the first successful fh_av_get, which every constructor calls first. */
extern const fh_av *fh_av_table;
#define A fh_av_table

/* The functions, or NULL with the reason in `err` (the libraries or a symbol are missing). */
const fh_av *fh_av_get(char *err, size_t n);

/* Writes "what: libav's reason" (or just `what` when code >= 0) into err; returns -1. */
int fh_av_fail(char *err, size_t n, const char *what, int code);
#endif
