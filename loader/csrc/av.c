#include "av.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define AVCODEC_SONAME "libavcodec.so." STR(LIBAVCODEC_VERSION_MAJOR)
#define AVUTIL_SONAME "libavutil.so." STR(LIBAVUTIL_VERSION_MAJOR)

static fh_av av;
const fh_av *fh_av_table;
static char why[256];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int resolve(void *lib, const char *soname, const char *name, void **slot) {
    *slot = dlsym(lib, name);
    if (!*slot) snprintf(why, sizeof why, "%s has no %s (a libav of another version?)", soname, name);
    return *slot != NULL;
}

static void load(void) {
    void *codec = dlopen(AVCODEC_SONAME, RTLD_NOW | RTLD_LOCAL);
    void *util = dlopen(AVUTIL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!codec || !util) {
        snprintf(why, sizeof why, "H.264 packs need %s (Debian: apt install libavcodec%d): %s",
                 codec ? AVUTIL_SONAME : AVCODEC_SONAME, LIBAVCODEC_VERSION_MAJOR, dlerror());
        return;
    }
    struct { void *lib; const char *soname, *name; void **slot; } table[] = {
        {codec, AVCODEC_SONAME, "avcodec_find_decoder", (void **)&av.find_decoder},
        {codec, AVCODEC_SONAME, "avcodec_find_encoder_by_name", (void **)&av.find_encoder_by_name},
        {codec, AVCODEC_SONAME, "avcodec_alloc_context3", (void **)&av.alloc_context3},
        {codec, AVCODEC_SONAME, "avcodec_free_context", (void **)&av.free_context},
        {codec, AVCODEC_SONAME, "avcodec_open2", (void **)&av.open2},
        {codec, AVCODEC_SONAME, "avcodec_send_packet", (void **)&av.send_packet},
        {codec, AVCODEC_SONAME, "avcodec_receive_frame", (void **)&av.receive_frame},
        {codec, AVCODEC_SONAME, "avcodec_send_frame", (void **)&av.send_frame},
        {codec, AVCODEC_SONAME, "avcodec_receive_packet", (void **)&av.receive_packet},
        {codec, AVCODEC_SONAME, "avcodec_flush_buffers", (void **)&av.flush_buffers},
        {codec, AVCODEC_SONAME, "av_packet_alloc", (void **)&av.packet_alloc},
        {codec, AVCODEC_SONAME, "av_packet_free", (void **)&av.packet_free},
        {codec, AVCODEC_SONAME, "av_packet_unref", (void **)&av.packet_unref},
        {codec, AVCODEC_SONAME, "av_new_packet", (void **)&av.new_packet},
        {util, AVUTIL_SONAME, "av_frame_alloc", (void **)&av.frame_alloc},
        {util, AVUTIL_SONAME, "av_frame_free", (void **)&av.frame_free},
        {util, AVUTIL_SONAME, "av_frame_unref", (void **)&av.frame_unref},
        {util, AVUTIL_SONAME, "av_frame_get_buffer", (void **)&av.frame_get_buffer},
        {util, AVUTIL_SONAME, "av_frame_make_writable", (void **)&av.frame_make_writable},
        {util, AVUTIL_SONAME, "av_strerror", (void **)&av.strerror},
        {util, AVUTIL_SONAME, "av_opt_set", (void **)&av.opt_set},
        {util, AVUTIL_SONAME, "av_opt_set_double", (void **)&av.opt_set_double},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!resolve(table[i].lib, table[i].soname, table[i].name, table[i].slot)) return;
    fh_av_table = &av;
}

const fh_av *fh_av_get(char *err, size_t n) {
    pthread_once(&once, load);
    if (!fh_av_table) snprintf(err, n, "%s", why);
    return fh_av_table;
}

int fh_av_fail(char *err, size_t n, const char *what, int code) {
    char buf[128] = "";
    if (code < 0 && fh_av_table) fh_av_table->strerror(code, buf, sizeof buf);
    snprintf(err, n, "%s%s%s", what, code < 0 ? ": " : "", buf);
    return -1;
}
