package dev.ollamapatch.site;

import java.util.List;

/**
 * Everything the site finder concluded about one file.
 *
 * @param machine      ELF machine name ("x86_64", "aarch64", ...)
 * @param go           whether the file is a Go program (Go build id or .go.buildinfo present)
 * @param codeAnalysis which address-forming instructions were searched for references
 * @param sites        every string containing a library's name, in file order
 */
public record ScanResult(String machine, boolean go, String codeAnalysis, List<Site> sites) {
    public ScanResult {
        sites = List.copyOf(sites);
    }

    public List<Site> locators() {
        return sites.stream().filter(s -> s.role() == Role.LOCATOR).toList();
    }

    public List<Site> conflicts() {
        return sites.stream().filter(s -> s.role() == Role.CONFLICT).toList();
    }
}
