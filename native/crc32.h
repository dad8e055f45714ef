/* CRC-32 as in zlib and PAR2 (reflected polynomial 0xEDB88320, initial and final XOR ~0). */
#ifndef BLAINE_CRC32_H
#define BLAINE_CRC32_H

#include <stddef.h>
#include <stdint.h>

void crc32_init(void);
/* Continues crc (0 for a new stream) over data. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t len);
/* The same by the table method alone, for tests: no process-wide switch, so a creator running meanwhile keeps its method. */
uint32_t crc32_update_table(uint32_t crc, const void *data, size_t len);
/* The CRC of `len` zero bytes appended to a stream whose CRC is crc. */
uint32_t crc32_zeros(uint32_t crc, size_t len);

#endif
