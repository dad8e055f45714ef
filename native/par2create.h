/*
 * One file's PAR2 2.0 recovery set, made from the file's bytes fed in order: the index file
 * (main, file description, slice checksums, creator packets) and one recovery file (recovery
 * slices, with copies of the index's packets).
 */
#ifndef BLAINE_PAR2CREATE_H
#define BLAINE_PAR2CREATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct par2_creator par2_creator;

/*
 * A creator for a file of `size` (> 0) bytes recorded as `name`, cut into slices of `slice`
 * bytes (a multiple of 4), with `recovery` recovery slices (exponents 0..recovery-1), using at
 * most about `budget` bytes for its buffers. NULL with *err set (EINVAL, ENOMEM) on failure.
 * When the recovery slices do not fit the budget at once they are made in column chunks, one
 * read of the file per chunk (par2_passes tells how many).
 */
par2_creator *par2_open(uint64_t slice, uint32_t recovery, uint64_t size, const char *name, size_t name_len, uint64_t budget, int *err);
unsigned par2_passes(const par2_creator *c);
/* Bytes of buffers the creator holds. */
uint64_t par2_memory(const par2_creator *c);
/* Feeds the next `len` bytes of the file (first pass only: it must be the only pass). */
int par2_feed(par2_creator *c, const uint8_t *data, size_t len);
/*
 * Writes the set to index_path and recovery_path (created, must not exist); for a creator fed
 * by par2_feed, after all of the file's bytes. 0, or an errno; *bytes gets the two files' size.
 */
int par2_finish(par2_creator *c, const char *index_path, const char *recovery_path, uint64_t *bytes);
/* Reads data_path for every pass itself and writes the set; 0 or an errno (EIO when the file changed size). */
int par2_from_file(par2_creator *c, const char *data_path, const char *index_path, const char *recovery_path, uint64_t *bytes);
/* Makes a running par2_from_file stop soon with ECANCELED (callable from any thread). */
void par2_cancel(par2_creator *c);
void par2_free(par2_creator *c);

/* The constant of input slice i (0-based) is 2^par2_slice_log(i). */
uint32_t par2_slice_log(uint32_t i);

#endif
