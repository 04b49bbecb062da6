package dev.ollamapatch.elf;

/**
 * An undefined dynamic symbol bound to a version that another file must define: {@code symbol@version}
 * from {@code file} ({@code .gnu.version} entry of the symbol, resolved through {@code .gnu.version_r}).
 */
public record SymbolVersionNeed(String symbol, String file, String version) {
    @Override
    public String toString() {
        return symbol + "@" + version + " (" + file + ")";
    }
}
