package dev.ollamapatch.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Relocation tables are read in blocks of whole entries: every entry comes out as an entry-by-entry
 * decoding of each REL/RELA section gives it (ELF gABI, "Relocation"), on the JDK's own libraries
 * (thousands of entries, more than one block) and on the synthetic image in all four class/byte-order
 * flavours.
 */
class RelocationTablesTest {
    /** Each REL/RELA section decoded entry by entry from its own bytes, independently of the parser. */
    private static List<Relocation> decodedEntryByEntry(ElfFile elf, byte[] file) {
        List<Relocation> out = new ArrayList<>();
        ByteBuffer b = ByteBuffer.wrap(file).order(elf.byteOrder());
        int w = elf.is64() ? 8 : 4;
        for (SectionHeader s : elf.sections()) {
            boolean rela = s.type() == ElfConstants.SHT_RELA;
            if (!rela && s.type() != ElfConstants.SHT_REL) continue;
            long ent = s.entsize() == 0 ? (long) w * (rela ? 3 : 2) : s.entsize();
            for (long i = 0; i < s.size() / ent; i++) {
                int at = (int) (s.offset() + i * ent);
                long off = w == 8 ? b.getLong(at) : b.getInt(at) & 0xffffffffL;
                long info = w == 8 ? b.getLong(at + w) : b.getInt(at + w) & 0xffffffffL;
                long addend = !rela ? 0 : w == 8 ? b.getLong(at + 2 * w) : b.getInt(at + 2 * w);
                out.add(new Relocation(off, w == 8 ? info & 0xffffffffL : info & 0xff, w == 8 ? info >>> 32 : info >>> 8,
                        addend, rela));
            }
        }
        return out;
    }

    static Stream<Path> jdkLibraries() throws IOException {
        Path lib = Path.of(System.getProperty("java.home"), "lib");
        return Stream.of(lib.resolve("server/libjvm.so"), lib.resolve("libjava.so"), lib.resolve("libnio.so"))
                .filter(Files::isRegularFile);
    }

    @ParameterizedTest
    @MethodSource("jdkLibraries")
    void everyEntryOfARealLibraryIsReadAsEntryByEntryDecodingGivesIt(Path lib) throws IOException {
        byte[] file = Files.readAllBytes(lib);
        try (ElfFile elf = ElfFile.open(lib)) {
            List<Relocation> expected = decodedEntryByEntry(elf, file);
            assertFalse(expected.isEmpty(), lib + " has relocations");
            assertEquals(expected, elf.relocations());
        }
    }

    @Test
    void theLargestLibraryNeedsMoreThanOneBlock() throws IOException {
        Path jvm = Path.of(System.getProperty("java.home"), "lib", "server", "libjvm.so");
        try (ElfFile elf = ElfFile.open(jvm)) {
            long bytes = elf.sections().stream().filter(s -> s.type() == ElfConstants.SHT_RELA || s.type() == ElfConstants.SHT_REL)
                    .mapToLong(SectionHeader::size).max().orElse(0);
            assertTrue(bytes > 1 << 16, "a table of " + bytes + " bytes spans several 64 KiB blocks");
        }
    }

    @ParameterizedTest(name = "ELF{0} {1}")
    @MethodSource("dev.ollamapatch.elf.ElfFileTest#flavours")
    void everyFlavourOfTheSyntheticImageIsReadEntryByEntry(boolean is64, ByteOrder order) {
        byte[] image = new ElfImageBuilder(is64, order).build();
        ElfFile elf = ElfFile.parse(ByteSource.of(image));
        List<Relocation> expected = decodedEntryByEntry(elf, image);
        assertEquals(3, expected.size());
        assertEquals(expected, elf.relocations());
    }
}
