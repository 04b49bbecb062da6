package dev.ollamapatch.elf;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.nio.ByteBuffer;

/**
 * Fuzz target for the ELF reader: any byte string either parses, with every lazily parsed view
 * readable, or fails with {@link ElfFormatException}. Anything else (another exception, a hang, an
 * OutOfMemoryError) is a finding.
 *
 * <p>Without {@code JAZZER_FUZZ} this replays the committed corpus in
 * {@code src/test/resources/dev/ollamapatch/elf/ElfFileFuzzTestInputs/parse/} (seeds and every
 * input that once failed); {@code ./mvnw verify} also fuzzes it for a bounded time (README "Robustness").
 */
class ElfFileFuzzTest {

    @FuzzTest(maxDuration = "60s")
    void parse(byte[] input) {
        ElfFile elf;
        try {
            elf = ElfFile.parse(ByteSource.of(input));
        } catch (ElfFormatException expected) {
            checkMessage(expected);
            return;
        }
        touch(elf, () -> elf.dynamic().forEach(d -> d.string()));
        touch(elf, elf::dynamicStrings);
        touch(elf, elf::dynamicSymbols);
        touch(elf, elf::symbols);
        touch(elf, elf::relocations);
        touch(elf, () -> {
            RelativeRelocations r = elf.relativeRelocations();
            for (int i = 0; i < Math.min(r.size(), 64); i++) r.targetAt(r.offsetAt(i));
        });
        touch(elf, elf::versionNeeds);
        touch(elf, elf::symbolVersions);
        touch(elf, elf::symbolVersionNeeds);
        touch(elf, elf::notes);
        touch(elf, elf::gnuBuildId);
        touch(elf, elf::goBuildId);
        for (SectionHeader s : elf.sections()) {
            touch(elf, () -> {
                ByteBuffer b = elf.sectionData(s);
                if (b.remaining() > 0) b.get(b.remaining() - 1);
            });
        }
        for (ProgramHeader p : elf.programHeaders()) {
            elf.fileOffsetOf(p.vaddr());
            elf.fileOffsetOf(p.vaddr() + p.filesz());
            elf.vaddrOf(p.offset());
            elf.loadSegmentContaining(p.vaddr());
        }
        elf.close();
    }

    private static void touch(ElfFile elf, Runnable view) {
        try {
            view.run();
        } catch (ElfFormatException expected) {
            checkMessage(expected);
        }
    }

    /** The documented contract of every ElfFormatException: one line that says something. */
    private static void checkMessage(ElfFormatException e) {
        String m = e.getMessage();
        if (m == null || m.isBlank() || m.contains("\n")) {
            throw new AssertionError("ElfFormatException without a one-line message: " + m, e);
        }
    }
}
