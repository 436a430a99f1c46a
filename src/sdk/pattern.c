/* pattern: the test pattern, a video source whose pictures say what they are: colour bars
 * to recognise it through a codec, the picture's number in blocks, and a moving square. */
#include <stdlib.h>
#include <string.h>

#include "sdk.h"
#include "video.h"

#define PAT_SIZE_MIN 64
#define PAT_BARS 8
#define PAT_BITS 16
/* How far a bar's average may be from its colour after a codec (0.08 bit per pixel of VP8
 * moves a bar's centre by a few steps; neighbouring bars differ by 25 and more in Y, U or V
 * but never in all three at once). */
#define PAT_TOLERANCE 24
#define PAT_GREY 128
#define PAT_WHITE 235
#define PAT_BLACK 16
#define PAT_CHROMA_NEUTRAL 128

/* 100% colour bars in BT.601 limited range: Y, U (Cb), V (Cr). */
static const uint8_t bar_yuv[PAT_BARS][3] = {
	{235, 128, 128}, /* white */
	{210, 16, 146},	 /* yellow */
	{170, 166, 16},	 /* cyan */
	{145, 54, 34},	 /* green */
	{106, 202, 222}, /* magenta */
	{81, 90, 240},	 /* red */
	{41, 240, 110},	 /* blue */
	{16, 128, 128},	 /* black */
};

/* Where things are in a picture of a given size; every edge is on an even pixel, so that
 * the chroma planes line up with the luma plane. */
struct layout {
	int width, height;
	int bar_x[PAT_BARS + 1]; /* bar i spans bar_x[i] to bar_x[i + 1] */
	int bars_h;		 /* the bars: rows 0 to bars_h */
	int num_y, num_h;	 /* the number's band */
	int cell_x, cell_w;	 /* its first cell and the width of each */
	int block_mx, block_my;	 /* the grey margins around each block in its cell */
	int sq_y, sq_h;		 /* the square's band */
	int sq_side, sq_margin, sq_step, sq_positions;
};

struct cw_test_pattern {
	struct layout l;
	uint32_t number; /* of the next picture */
	uint8_t *buf;	 /* Y, then U, then V */
	uint8_t *planes[3];
};

static int even(int v)
{
	return v & ~1;
}

static bool size_ok(int width, int height)
{
	return width >= PAT_SIZE_MIN && height >= PAT_SIZE_MIN && width <= CW__VIDEO_WIDTH_MAX &&
	       height <= CW__VIDEO_HEIGHT_MAX && width % 2 == 0 && height % 2 == 0;
}

static void layout_of(struct layout *l, int width, int height)
{
	int rest;

	l->width = width;
	l->height = height;
	for (int i = 0; i <= PAT_BARS; i++)
		l->bar_x[i] = even(i * width / PAT_BARS);
	l->bar_x[PAT_BARS] = width;
	l->bars_h = even(height * 2 / 3);
	rest = height - l->bars_h;
	l->num_y = l->bars_h;
	l->num_h = even(rest / 2);
	l->sq_y = l->num_y + l->num_h;
	l->sq_h = height - l->sq_y;
	l->cell_w = even(width / PAT_BITS);
	l->cell_x = even((width - PAT_BITS * l->cell_w) / 2);
	l->block_mx = even(l->cell_w / 8);
	l->block_my = even(l->num_h / 6);
	l->sq_margin = even(l->sq_h / 8);
	l->sq_side = l->sq_h - 2 * l->sq_margin;
	l->sq_step = even(width / 80) > 2 ? even(width / 80) : 2;
	l->sq_positions = (width - l->sq_side) / l->sq_step + 1;
}

static void fill(uint8_t *plane, int stride, int x0, int y0, int x1, int y1, uint8_t v)
{
	for (int y = y0; y < y1; y++)
		memset(plane + (size_t)y * (size_t)stride + x0, v, (size_t)(x1 - x0));
}

/* The bars, drawn once. */
static void draw_bars(struct cw_test_pattern *p)
{
	const struct layout *l = &p->l;
	int cstride = l->width / 2;

	for (int i = 0; i < PAT_BARS; i++) {
		fill(p->planes[0], l->width, l->bar_x[i], 0, l->bar_x[i + 1], l->bars_h,
		     bar_yuv[i][0]);
		fill(p->planes[1], cstride, l->bar_x[i] / 2, 0, l->bar_x[i + 1] / 2, l->bars_h / 2,
		     bar_yuv[i][1]);
		fill(p->planes[2], cstride, l->bar_x[i] / 2, 0, l->bar_x[i + 1] / 2, l->bars_h / 2,
		     bar_yuv[i][2]);
	}
	/* Below the bars everything is grey, white or black: neutral chroma. */
	fill(p->planes[1], cstride, 0, l->bars_h / 2, cstride, l->height / 2, PAT_CHROMA_NEUTRAL);
	fill(p->planes[2], cstride, 0, l->bars_h / 2, cstride, l->height / 2, PAT_CHROMA_NEUTRAL);
}

/* The number and the square of one picture. */
static void draw_picture(struct cw_test_pattern *p, uint32_t number)
{
	const struct layout *l = &p->l;
	uint8_t *y = p->planes[0];
	int sx;

	fill(y, l->width, 0, l->num_y, l->width, l->height, PAT_GREY);
	for (int b = 0; b < PAT_BITS; b++) {
		int x = l->cell_x + b * l->cell_w;
		bool one = number >> (PAT_BITS - 1 - b) & 1;

		fill(y, l->width, x + l->block_mx, l->num_y + l->block_my,
		     x + l->cell_w - l->block_mx, l->num_y + l->num_h - l->block_my,
		     one ? PAT_WHITE : PAT_BLACK);
	}
	sx = (int)(number % (uint32_t)l->sq_positions) * l->sq_step;
	fill(y, l->width, sx, l->sq_y + l->sq_margin, sx + l->sq_side,
	     l->sq_y + l->sq_margin + l->sq_side, PAT_WHITE);
}

int cw_test_pattern_new(cw_test_pattern **patternp, int width, int height)
{
	cw_test_pattern *p;
	size_t luma;

	if (!patternp)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "a place for the test pattern is needed");
	*patternp = NULL;
	if (!size_ok(width, height))
		return cw__fail(CW_ERR_INVALID_ARGUMENT,
				"the test pattern's width and height must be even, from 64x64 "
				"to 1920x1088");
	p = calloc(1, sizeof(*p));
	luma = (size_t)width * (size_t)height;
	if (!p || !(p->buf = malloc(luma + luma / 2))) {
		free(p);
		return cw__fail(CW_ERR_NO_MEMORY, NULL);
	}
	layout_of(&p->l, width, height);
	p->planes[0] = p->buf;
	p->planes[1] = p->buf + luma;
	p->planes[2] = p->buf + luma + luma / 4;
	draw_bars(p);
	*patternp = p;
	return 0;
}

void cw_test_pattern_free(cw_test_pattern *pattern)
{
	if (!pattern)
		return;
	free(pattern->buf);
	free(pattern);
}

int cw_test_pattern_source_cb(cw_session *session, cw_video_frame *frame, void *arg)
{
	cw_test_pattern *p = arg;

	(void)session;
	if (!p || !frame)
		return cw__fail(CW_ERR_INVALID_ARGUMENT, "the test pattern is needed as arg");
	draw_picture(p, p->number++);
	frame->width = p->l.width;
	frame->height = p->l.height;
	for (int i = 0; i < 3; i++) {
		frame->planes[i] = p->planes[i];
		frame->strides[i] = i == 0 ? p->l.width : p->l.width / 2;
	}
	return 0;
}

/* The average of a plane's rectangle [x0, x1) x [y0, y1), which is not empty. */
static int average(const uint8_t *plane, int stride, int x0, int y0, int x1, int y1)
{
	uint64_t sum = 0;

	for (int y = y0; y < y1; y++) {
		const uint8_t *row = plane + (size_t)y * (size_t)stride;

		for (int x = x0; x < x1; x++)
			sum += row[x];
	}
	return (int)(sum / (uint64_t)((x1 - x0) * (y1 - y0)));
}

static bool near(int v, int want)
{
	return v >= want - PAT_TOLERANCE && v <= want + PAT_TOLERANCE;
}

bool cw_test_pattern_read(const cw_video_frame *frame, uint32_t *number)
{
	struct layout l;
	uint32_t n = 0;

	if (!frame || !size_ok(frame->width, frame->height) || !frame->planes[0] ||
	    !frame->planes[1] || !frame->planes[2] || frame->strides[0] < frame->width ||
	    frame->strides[1] < frame->width / 2 || frame->strides[2] < frame->width / 2)
		return false;
	layout_of(&l, frame->width, frame->height);

	/* The middle half of each bar, both ways: away from the edges a codec blurs. */
	for (int i = 0; i < PAT_BARS; i++) {
		int w = l.bar_x[i + 1] - l.bar_x[i];
		int x0 = even(l.bar_x[i] + w / 4), x1 = even(l.bar_x[i + 1] - w / 4);
		int y0 = even(l.bars_h / 4), y1 = even(l.bars_h * 3 / 4);

		if (x1 <= x0)
			x1 = x0 + 2;
		if (!near(average(frame->planes[0], frame->strides[0], x0, y0, x1, y1),
			  bar_yuv[i][0]) ||
		    !near(average(frame->planes[1], frame->strides[1], x0 / 2, y0 / 2, x1 / 2,
				  y1 / 2),
			  bar_yuv[i][1]) ||
		    !near(average(frame->planes[2], frame->strides[2], x0 / 2, y0 / 2, x1 / 2,
				  y1 / 2),
			  bar_yuv[i][2]))
			return false;
	}
	/* The middle of each block, black or white. */
	for (int b = 0; b < PAT_BITS; b++) {
		int bx0 = l.cell_x + b * l.cell_w + l.block_mx;
		int bx1 = l.cell_x + (b + 1) * l.cell_w - l.block_mx;
		int by0 = l.num_y + l.block_my, by1 = l.num_y + l.num_h - l.block_my;
		int x0 = bx0 + (bx1 - bx0) / 4, x1 = bx1 - (bx1 - bx0) / 4;
		int y0 = by0 + (by1 - by0) / 4, y1 = by1 - (by1 - by0) / 4;

		if (x1 <= x0)
			x1 = x0 + 1;
		if (y1 <= y0)
			y1 = y0 + 1;
		n = n << 1 |
		    (average(frame->planes[0], frame->strides[0], x0, y0, x1, y1) > PAT_GREY);
	}
	if (number)
		*number = n;
	return true;
}
