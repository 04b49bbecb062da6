package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Hand-assembled aarch64 instructions: adrp+add names a string; the length comes from stores or x(n+1). */
class Arm64CodeTest {
    private static final long BASE = 0x10000;
    private static final AddressRanges STRINGS = new AddressRanges(List.<long[]>of(new long[] {0x11000, 0x12000}));
    private static final int NOP = 0xD503201F;

    private static ByteBuffer code(int... insns) {
        ByteBuffer b = ByteBuffer.allocate(4 * 40).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : insns) b.putInt(x);
        while (b.hasRemaining()) b.putInt(NOP);
        return b.flip();
    }

    /** adrp xd, +pages (immlo in bits 29-30, immhi in 5-23). */
    private static int adrp(int rd, int pages) {
        return 0x90000000 | ((pages & 3) << 29) | (((pages >> 2) & 0x7FFFF) << 5) | rd;
    }

    /** add xd, xn, #imm12 (64-bit, no shift). */
    private static int add(int rd, int rn, int imm) {
        return 0x91000000 | (imm << 10) | (rn << 5) | rd;
    }

    /** movz xd, #imm16. */
    private static int movz(int rd, int imm) {
        return 0xD2800000 | (imm << 5) | rd;
    }

    /** stp xt1, xt2, [xn, #imm*8]. */
    private static int stp(int t1, int t2, int rn, int imm7) {
        return 0xA9000000 | ((imm7 & 0x7F) << 15) | (t2 << 10) | (rn << 5) | t1;
    }

    private static List<Reference> scan(ByteBuffer code) {
        List<Reference> out = new ArrayList<>();
        Arm64Code.scan(code, BASE, 0, code.limit(), STRINGS, out);
        return out;
    }

    @Test
    void adrpAddWithTheLengthInTheNextRegister() {
        // adrp x0, page+1; add x0, x0, #0x123; movz x1, #17 -> the string at 0x11123 of 17 bytes
        List<Reference> refs = scan(code(adrp(0, 1), add(0, 0, 0x123), movz(1, 17)));
        assertEquals(List.of(new Reference(0x11123, 17, "adrp+add at 0x10000 with length 17")), refs);
    }

    @Test
    void adrpAddAloneProvesNoLength() {
        assertEquals(List.of(new Reference(0x11123, -1, "adrp+add at 0x10000")),
                scan(code(adrp(0, 1), add(0, 0, 0x123))));
    }

    @Test
    void stpOfPointerAndLength() {
        // movz x3, #17; adrp x2, ...; add x2, x2, #0x40; stp x2, x3, [sp, #16]
        List<Reference> refs = scan(code(movz(3, 17), adrp(2, 1), add(2, 2, 0x40), stp(2, 3, 31, 2)));
        assertEquals(List.of(new Reference(0x11040, 17, "adrp+add at 0x10004 with length 17")), refs);
    }

    @Test
    void anAddIntoAnotherRegisterDoesNotCompleteTheAddress() {
        assertEquals(List.of(), scan(code(adrp(0, 1), add(5, 6, 0x123))));
    }

    @Test
    void addressesOutsideTheStringsAreNotReferences() {
        assertEquals(List.of(), scan(code(adrp(0, 4), add(0, 0, 0x10))));
    }

    @Test
    void logicalImmediatesDecodeAsTheArmArmSays() {
        assertEquals(0xFF, Arm64Code.decodeBitMask(0, 0b000111, 0, 32));
        assertEquals(0xFFFF, Arm64Code.decodeBitMask(1, 0b001111, 0, 64));
        assertEquals(0x8000_0000_0000_0000L, Arm64Code.decodeBitMask(1, 0b000000, 1, 64), "one bit rotated right by one");
        assertEquals(0x5555_5555L, Arm64Code.decodeBitMask(0, 0b111100, 0, 32), "2-bit elements 01 repeated");
        assertEquals(-1, Arm64Code.decodeBitMask(0, 0b111111, 0, 32), "reserved: all ones");
        // orr w1, wzr, #0xff is the mov alias: immediateInto reads it
        int orr = 0x32000000 | (0b000111 << 10) | (31 << 5) | 1;
        assertEquals(0xFF, Arm64Code.immediateInto(orr, 1));
        assertEquals(-1, Arm64Code.immediateInto(orr, 2));
    }
}
