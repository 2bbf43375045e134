//! The checksum in the snapshot trailer.

/// CRC-32/ISO-HDLC (reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF), the one
/// zlib, PNG and Ethernet use. A 16-entry table processed a nibble at a time: 64 bytes of table
/// instead of 1 KiB, which is plenty fast for snapshots of a few kilobytes.
pub fn crc32(data: &[u8]) -> u32 {
    const fn nibble_table() -> [u32; 16] {
        let mut table = [0u32; 16];
        let mut i = 0;
        while i < 16 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    }
    const TABLE: [u32; 16] = nibble_table();

    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        // `& 0xF` keeps the index below 16, so these lookups cannot miss.
        crc = (crc >> 4) ^ TABLE.get((crc & 0xF) as usize).copied().unwrap_or(0);
        crc = (crc >> 4) ^ TABLE.get((crc & 0xF) as usize).copied().unwrap_or(0);
    }
    !crc
}
