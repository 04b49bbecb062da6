package dev.ollamapatch.site;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Hand-assembled x86-64 instructions: which ones name a string, and which prove its length. */
class X86CodeTest {
    private static final long BASE = 0x401000;
    /** The strings' addresses: 0x402000 up to 0x403000. */
    private static final AddressRanges STRINGS = new AddressRanges(List.<long[]>of(new long[] {0x402000, 0x403000}));

    private static final int NOP = 0x90;

    /** Code of the given bytes, padded with NOPs to 160 bytes. */
    private static ByteBuffer code(int... bytes) {
        ByteBuffer b = ByteBuffer.allocate(160).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : bytes) b.put((byte) x);
        while (b.hasRemaining()) b.put((byte) NOP);
        return b.flip();
    }

    /** {@code lea rax,[rip+disp]} at offset 0 pointing at {@code target}: 48 8D 05 disp32 (7 bytes). */
    private static int[] leaRax(long target) {
        int disp = (int) (target - (BASE + 7));
        return new int[] {0x48, 0x8D, 0x05, disp & 0xFF, (disp >> 8) & 0xFF, (disp >> 16) & 0xFF, (disp >>> 24) & 0xFF};
    }

    private static int[] concat(int[]... parts) {
        int n = 0;
        for (int[] p : parts) n += p.length;
        int[] out = new int[n];
        int i = 0;
        for (int[] p : parts) for (int x : p) out[i++] = x;
        return out;
    }

    private static List<Reference> scan(ByteBuffer code, boolean absolute) {
        List<Reference> out = new ArrayList<>();
        X86Code.scan(code, BASE, 0, code.limit(), STRINGS, absolute, out);
        return out;
    }

    @Test
    void leaWithTheLengthInTheNextAbiRegister() {
        // lea rax,[rip+...]; mov ebx,17 (Go ABIInternal: string in rax, length in rbx)
        List<Reference> refs = scan(code(concat(leaRax(0x402010), new int[] {0xBB, 17, 0, 0, 0})), false);
        assertEquals(List.of(new Reference(0x402010, 17, "lea at 0x401000 with length 17")), refs);
    }

    @Test
    void leaAloneProvesNoLength() {
        List<Reference> refs = scan(code(leaRax(0x402010)), false);
        assertEquals(List.of(new Reference(0x402010, -1, "lea at 0x401000")), refs);
    }

    @Test
    void anImmediateIntoAnotherRegisterIsNotALength() {
        // mov ecx,17 is not the register paired with rax
        List<Reference> refs = scan(code(concat(leaRax(0x402010), new int[] {0xB9, 17, 0, 0, 0})), false);
        assertEquals(-1, refs.get(0).length());
    }

    @Test
    void leaOutsideTheStringsIsNotAReference() {
        assertEquals(List.of(), scan(code(leaRax(0x404000)), false));
    }

    @Test
    void pointerAndLengthStoredInAdjacentStackWords() {
        int[] store = {0x48, 0x89, 0x44, 0x24, 0x10};                       // mov [rsp+0x10],rax
        int[] length = {0x48, 0xC7, 0x44, 0x24, 0x18, 17, 0, 0, 0};          // mov qword [rsp+0x18],17
        List<Reference> refs = scan(code(concat(leaRax(0x402020), store, length)), false);
        assertEquals(List.of(new Reference(0x402020, 17, "lea at 0x401000 with length 17")), refs);
    }

    @Test
    void aLengthStoredInAWordThatIsNotAdjacentProvesNothing() {
        int[] store = {0x48, 0x89, 0x44, 0x24, 0x10};                       // mov [rsp+0x10],rax
        int[] other = {0x48, 0xC7, 0x44, 0x24, 0x20, 17, 0, 0, 0};           // mov qword [rsp+0x20],17
        assertEquals(-1, scan(code(concat(leaRax(0x402020), store, other)), false).get(0).length());
    }

    @Test
    void absoluteImmediatesCountOnlyInPositionDependentCode() {
        ByteBuffer c = code(0xB9, 0x30, 0x20, 0x40, 0x00);                   // mov ecx,0x402030
        assertEquals(List.of(new Reference(0x402030, -1, "mov imm32 at 0x401000")), scan(c, true));
        assertEquals(List.of(), scan(c, false));
    }
}
