/**
 * Keeps the memory of a finished password hash for the next one. @node-rs/argon2 allocates each hash's
 * 19 MiB with its own allocator (mimalloc), which by default hands freed memory back to the kernel 10 ms
 * later. Unless hashes follow each other within milliseconds, every hash then faults its memory in again
 * (800 to 2,400 page faults a hash, measured), and on virtual machines where a page fault is dear that costs
 * as much as the hash itself (12 µs a page, 58 ms for 19 MiB, on a 2-core microVM). With a delay of 1 s the
 * memory stays mapped while registrations and logins keep coming: at most one hash per thread of libuv's pool
 * (4 × 19 MiB). An operator's own `MIMALLOC_PURGE_DELAY` wins.
 *
 * Imported before the addon: mimalloc reads its options once, when the addon loads.
 */
process.env.MIMALLOC_PURGE_DELAY ??= '1000';

export {};
