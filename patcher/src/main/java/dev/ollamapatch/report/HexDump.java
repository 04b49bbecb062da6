package dev.ollamapatch.report;

/** xxd's layout (offset, 16 bytes in pairs, text), so a line can be checked against {@code xxd -s}. */
final class HexDump {
    private HexDump() {}

    static String lines(long offset, byte[] bytes, String indent) {
        StringBuilder out = new StringBuilder();
        for (int row = 0; row < bytes.length; row += 16) {
            out.append(indent).append(String.format("%08x: ", offset + row));
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < 16; i++) {
                if (row + i < bytes.length) {
                    int b = bytes[row + i] & 0xFF;
                    out.append(String.format("%02x", b));
                    text.append(b >= 0x20 && b < 0x7F ? (char) b : '.');
                } else {
                    out.append("  ");
                }
                if (i % 2 == 1) out.append(' ');
            }
            out.append(' ').append(text).append('\n');
        }
        return out.toString();
    }
}
