package dev.ollamapatch.image;

import dev.ollamapatch.install.Targets;

import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Where Ollama is in an image's merged view, by the rules for an install tree ({@code Targets.elfFilesOf}):
 * every directory {@code D} with {@code D/bin/ollama} or a directory {@code D/lib/ollama} is an install
 * (the official image: {@code D = /usr}); its files are {@code D/bin/ollama} and every file below
 * {@code D/lib/ollama}, symbolic links followed inside the image (to wherever they lead there, a
 * name with {@code ollama} in it or not, as an install directory given by a symbolic link is
 * patched where it really is), never the tool's own shims.
 */
final class OllamaFiles {
    private OllamaFiles() {}

    /** Install root (key, "" for /) -> the real files that belong to it (sorted keys). */
    static Map<String, TreeSet<String>> find(MergedView view) {
        Map<String, TreeSet<String>> roots = new TreeMap<>();
        for (String key : view.all().keySet()) {
            if (key.equals("bin/ollama") || key.endsWith("/bin/ollama")) {
                String root = Names.parent(Names.parent(key));
                String real = view.resolve(key);
                MergedView.Node n = real == null ? null : view.get(real);
                if (n != null && n.kind() == MergedView.Kind.FILE) add(view, roots, root, real);
            } else if (key.equals("lib/ollama") || key.endsWith("/lib/ollama")) {
                String root = Names.parent(Names.parent(key));
                String real = view.resolve(key);
                if (real == null) continue;
                roots.computeIfAbsent(root, r -> new TreeSet<>());
                for (Map.Entry<String, MergedView.Node> e : view.below(real).entrySet()) {
                    if (e.getValue().kind() == MergedView.Kind.FILE) add(view, roots, root, e.getKey());
                }
            }
        }
        roots.values().removeIf(TreeSet::isEmpty);
        return roots;
    }

    private static void add(MergedView view, Map<String, TreeSet<String>> roots, String root, String real) {
        String base = Names.base(real);
        if (base.equals(Targets.SHIM_FILE) || base.endsWith(Targets.BACKUP_SUFFIX)) return;
        roots.computeIfAbsent(root, r -> new TreeSet<>()).add(real);
    }

    /**
     * The files of {@code roots} whose content the pass over the layers did not read (only names with
     * an {@code ollama} component are read closely then): reached through a symbolic link to a place
     * without {@code ollama} in its path, or a hard link to such a name. By the layer that holds each
     * content, then its entry name there.
     */
    static Map<Integer, Map<String, MergedView.Inode>> unread(MergedView view, Map<String, TreeSet<String>> roots) {
        Map<Integer, Map<String, MergedView.Inode>> out = new TreeMap<>();
        for (TreeSet<String> keys : roots.values()) {
            for (String key : keys) {
                MergedView.Inode inode = view.get(key).inode();
                if (inode.peeked || inode.header.size() < 4) continue;
                out.computeIfAbsent(inode.layer, l -> new TreeMap<>()).put(inode.firstName, inode);
            }
        }
        return out;
    }
}
