package dev.ollamapatch.elf;

/**
 * One entry of the dynamic table. For string-valued tags (NEEDED, SONAME, RPATH, RUNPATH, AUXILIARY,
 * FILTER, CONFIG, DEPAUDIT, AUDIT) {@code string} is the resolved value and {@code stringFileOffset}
 * where it starts in the file; otherwise they are null and -1.
 */
public record DynamicEntry(int index, long tag, long value, long fileOffset, String string, long stringFileOffset) {

    /** Tags whose value is an offset into the dynamic string table. */
    public static boolean isStringTag(long tag) {
        return tag == ElfConstants.DT_NEEDED || tag == ElfConstants.DT_SONAME || tag == ElfConstants.DT_RPATH
                || tag == ElfConstants.DT_RUNPATH || tag == ElfConstants.DT_AUXILIARY
                || tag == ElfConstants.DT_FILTER || tag == ElfConstants.DT_CONFIG
                || tag == ElfConstants.DT_DEPAUDIT || tag == ElfConstants.DT_AUDIT;
    }
}
