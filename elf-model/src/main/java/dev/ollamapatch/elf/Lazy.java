package dev.ollamapatch.elf;

import java.util.function.Supplier;

/** A value computed once on first use and then shared; a failure is rethrown on every access. */
final class Lazy<T> implements Supplier<T> {
    private Supplier<T> supplier;
    private volatile T value;
    private RuntimeException failure;

    Lazy(Supplier<T> supplier) {
        this.supplier = supplier;
    }

    @Override
    public T get() {
        T v = value;
        if (v != null) {
            return v;
        }
        synchronized (this) {
            if (value == null) {
                if (failure != null) {
                    throw failure;
                }
                try {
                    value = supplier.get();
                    supplier = null;
                } catch (RuntimeException e) {
                    failure = e;
                    throw e;
                }
            }
            return value;
        }
    }
}
